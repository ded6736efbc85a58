// The Azure Resource Manager ports on the real SDKs: @azure/arm-msi for identities and federated credentials,
// @azure/arm-authorization for role definitions and assignments, and @azure/core-client for the one call
// neither covers (reading a subscription: the subscriptions SDK for it needs Node 22).
//
// Every client is built with the bootstrap connection's own ARM endpoint and token audience, so sovereign
// clouds and the emulator need no special case, and with the SDK retries off (ServiceCalls retries).
import { AuthorizationManagementClient, type RoleAssignment as SdkRoleAssignment, type RoleDefinition as SdkRoleDefinition } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient, type FederatedIdentityCredential, type Identity as SdkIdentity } from '@azure/arm-msi';
import { ServiceClient } from '@azure/core-client';
import type { TokenCredential } from '@azure/core-auth';
import { bearerTokenAuthenticationPolicy, createPipelineRequest } from '@azure/core-rest-pipeline';
import { TaskError } from '../errors';
import type {
  FederatedCredential,
  Identity,
  IdentityClient,
  IdentityProperties,
  IdentityRef,
  RoleAssignment,
  RoleAssignmentRequest,
  RoleClient,
  RoleDefinition,
  Subscription,
} from '../ports/azure';
import { sharedArmHttpClient, type HttpSettings } from './http-client';
import type { ServiceCalls } from './service-calls';
import { describeFailure, type ServiceFailure } from './service-failure';

export interface ArmSettings {
  /** The bootstrap connection's ARM endpoint, e.g. https://management.azure.com/ */
  readonly endpoint: string;
  /** The audience ARM tokens need, e.g. https://management.core.windows.net/ */
  readonly resourceId: string;
  readonly credential: TokenCredential;
  readonly userAgent: string;
  /** The run's cancellation and the agent's proxy and certificate authority (shared with the credential). */
  readonly http?: HttpSettings;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The scope ARM tokens are requested for: the audience from the connection's data, not the endpoint's host. */
function armScope(resourceId: string): string {
  return `${resourceId.replace(/\/+$/, '')}/.default`;
}

export function armClientOptions(settings: ArmSettings) {
  return {
    endpoint: settings.endpoint.replace(/\/+$/, ''),
    // Without this the SDK asks for `${endpoint}/.default`, which only works for the public cloud's own host.
    credentialScopes: [armScope(settings.resourceId)],
    retryOptions: { maxRetries: 0 },
    userAgentOptions: { userAgentPrefix: settings.userAgent },
    httpClient: sharedArmHttpClient(settings.endpoint, settings.http),
  };
}

/** One SDK client per subscription: both SDKs bind the subscription at construction. */
class PerSubscription<T> {
  private readonly clients = new Map<string, T>();
  constructor(private readonly create: (subscriptionId: string) => T) {}
  get(subscriptionId: string): T {
    const key = subscriptionId.toLowerCase();
    let client = this.clients.get(key);
    if (!client) {
      client = this.create(subscriptionId);
      this.clients.set(key, client);
    }
    return client;
  }
}

async function notFoundAsUndefined<T>(operation: () => Promise<T>, notFoundCodes: readonly string[] = []): Promise<T | undefined> {
  try {
    return await operation();
  } catch (error) {
    const failure = describeFailure(error);
    if (failure.statusCode === 404 || (failure.code !== undefined && notFoundCodes.includes(failure.code))) return undefined;
    throw error;
  }
}

/** A delete whose target is already gone has done its job: a rerun after a crash must not fail on it. */
async function goneIsDone(operation: () => Promise<unknown>): Promise<void> {
  await notFoundAsUndefined(operation, ['ResourceGroupNotFound', 'ParentResourceNotFound', 'RoleAssignmentNotFound']);
}

function toIdentity(identity: SdkIdentity): Identity {
  return {
    id: identity.id ?? '',
    name: identity.name ?? '',
    clientId: identity.clientId ?? '',
    principalId: identity.principalId ?? '',
    tenantId: identity.tenantId ?? '',
    location: identity.location,
    tags: { ...(identity.tags ?? {}) },
  };
}

function toCredential(credential: FederatedIdentityCredential): FederatedCredential {
  return { name: credential.name ?? '', issuer: credential.issuer ?? '', subject: credential.subject ?? '', audiences: [...(credential.audiences ?? [])] };
}

export class ArmIdentityClient implements IdentityClient {
  private readonly clients: PerSubscription<ManagedServiceIdentityClient>;

  constructor(settings: ArmSettings, private readonly calls: ServiceCalls) {
    const options = armClientOptions(settings);
    this.clients = new PerSubscription((subscriptionId) => new ManagedServiceIdentityClient(settings.credential, subscriptionId, options));
  }

  getIdentity(ref: IdentityRef): Promise<Identity | undefined> {
    return this.calls.run({
      what: `read identity ${ref.name}`,
      // A missing resource group means the identity does not exist either; creating it will say why it fails.
      operation: (_, abortSignal) =>
        notFoundAsUndefined(async () => toIdentity(await this.clients.get(ref.subscriptionId).userAssignedIdentities.get(ref.resourceGroup, ref.name, { abortSignal })), ['ResourceGroupNotFound']),
    });
  }

  createOrUpdateIdentity(ref: IdentityRef, properties: IdentityProperties): Promise<Identity> {
    return this.calls.run({
      what: `create identity ${ref.name}`,
      operation: async (_, abortSignal) =>
        toIdentity(
          await this.clients.get(ref.subscriptionId).userAssignedIdentities.createOrUpdate(
            ref.resourceGroup,
            ref.name,
            { location: properties.location, tags: { ...properties.tags } },
            { abortSignal },
          ),
        ),
      translate: (failure) =>
        failure.code === 'ResourceGroupNotFound'
          ? new TaskError('MIC205', `The resource group ${ref.resourceGroup} of identity ${ref.name} does not exist in subscription ${ref.subscriptionId}: ${failure.message}`)
          : undefined,
    });
  }

  listIdentities(subscriptionId: string, resourceGroup: string): Promise<Identity[]> {
    return this.calls.run({
      what: `list the identities in resource group ${resourceGroup}`,
      operation: async (_, abortSignal) =>
        (await notFoundAsUndefined(async () => {
          const identities: Identity[] = [];
          for await (const identity of this.clients.get(subscriptionId).userAssignedIdentities.listByResourceGroup(resourceGroup, { abortSignal })) identities.push(toIdentity(identity));
          return identities;
        }, ['ResourceGroupNotFound'])) ?? [],
    });
  }

  listIdentitiesInSubscription(subscriptionId: string): Promise<Identity[]> {
    return this.calls.run({
      what: `list the identities in subscription ${subscriptionId}`,
      operation: async () => {
        const identities: Identity[] = [];
        for await (const identity of this.clients.get(subscriptionId).userAssignedIdentities.listBySubscription()) identities.push(toIdentity(identity));
        return identities;
      },
    });
  }

  listFederatedCredentials(ref: IdentityRef): Promise<FederatedCredential[]> {
    return this.calls.run({
      what: `list federated credentials of ${ref.name}`,
      operation: async (_, abortSignal) => {
        const credentials: FederatedCredential[] = [];
        for await (const credential of this.clients.get(ref.subscriptionId).federatedIdentityCredentials.list(ref.resourceGroup, ref.name, { abortSignal })) {
          credentials.push(toCredential(credential));
        }
        return credentials;
      },
    });
  }

  putFederatedCredential(ref: IdentityRef, credential: FederatedCredential): Promise<FederatedCredential> {
    return this.calls.run({
      what: `write federated credential ${credential.name} on ${ref.name}`,
      operation: async (_, abortSignal) =>
        toCredential(
          await this.clients.get(ref.subscriptionId).federatedIdentityCredentials.createOrUpdate(
            ref.resourceGroup,
            ref.name,
            credential.name,
            { issuer: credential.issuer, subject: credential.subject, audiences: [...credential.audiences] },
            { abortSignal },
          ),
        ),
      // Entra refuses concurrent writes on one identity; the core serializes ours, but another run may be writing.
      // A new identity stays unknown to the credential provider for a while (ParentResourceNotFound, up to
      // minutes: openshift/cloud-credential-operator#878, hashicorp/terraform-provider-azurerm#32179).
      retryCodes: ['ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity', 'ParentResourceNotFound'],
      translate: (failure) => {
        if (failure.code === 'ParentResourceNotFound') {
          return new TaskError('MIC210', `Identity ${ref.name} was still unknown to its federated credentials when the task gave up writing ${credential.name}: ${failure.message}`);
        }
        if (failure.statusCode === 405) return new TaskError('MIC209', `Federated credentials are not supported on identity ${ref.name}: ${failure.message}`);
        if (failure.statusCode === 400) return new TaskError('MIC207', `Azure refused federated credential ${credential.name} on ${ref.name}: ${failure.message}`);
        return undefined;
      },
    });
  }

  // ARM answers 200 when it deleted and 204 when there was nothing to delete (IdentityDelete.json,
  // FederatedIdentityCredentialDelete.json); a 404 (the resource group or the parent identity is gone) is the same.
  deleteIdentity(ref: IdentityRef): Promise<void> {
    return this.calls.run({
      what: `delete identity ${ref.name}`,
      operation: (_, abortSignal) => goneIsDone(() => this.clients.get(ref.subscriptionId).userAssignedIdentities.delete(ref.resourceGroup, ref.name, { abortSignal })),
    });
  }

  deleteFederatedCredential(ref: IdentityRef, name: string): Promise<void> {
    return this.calls.run({
      what: `delete federated credential ${name} on ${ref.name}`,
      operation: (_, abortSignal) => goneIsDone(() => this.clients.get(ref.subscriptionId).federatedIdentityCredentials.delete(ref.resourceGroup, ref.name, name, { abortSignal })),
      retryCodes: ['ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity'],
    });
  }
}

function toRoleDefinition(definition: SdkRoleDefinition): RoleDefinition {
  const id = definition.id ?? '';
  return {
    guid: (definition.name ?? id.split('/').pop() ?? '').toLowerCase(),
    id,
    roleName: definition.roleName ?? '',
    roleType: definition.roleType ?? '',
    permissions: (definition.permissions ?? []).map((permission) => ({
      actions: [...(permission.actions ?? [])],
      notActions: [...(permission.notActions ?? [])],
      dataActions: [...(permission.dataActions ?? [])],
      notDataActions: [...(permission.notDataActions ?? [])],
    })),
  };
}

function toRoleAssignment(assignment: SdkRoleAssignment): RoleAssignment {
  return {
    id: assignment.id ?? '',
    name: assignment.name ?? '',
    scope: assignment.scope ?? '',
    roleDefinitionId: assignment.roleDefinitionId ?? '',
    principalId: assignment.principalId ?? '',
    ...(assignment.principalType === undefined ? {} : { principalType: assignment.principalType }),
    ...(assignment.description === undefined || assignment.description === null ? {} : { description: assignment.description }),
  };
}

/**
 * The assignment ARM's 409 RoleAssignmentExists names: "The ID of the existing role assignment is {32 hex}"
 * (since 2025; Azure/azure-cli#31995). Without the id (older wording), the assignment is reported by what it is.
 */
function existingAssignment(request: RoleAssignmentRequest, message: string): RoleAssignment {
  const hex = /existing role assignment is ([0-9a-f]{32})/i.exec(message)?.[1];
  const name = hex ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`.toLowerCase() : 'another name';
  return {
    id: `${request.scope.replace(/\/+$/, '')}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    name,
    scope: request.scope,
    roleDefinitionId: request.roleDefinitionId,
    principalId: request.principalId,
    ...(request.principalType === undefined ? {} : { principalType: request.principalType }),
  };
}

/** OData string literal: single quotes doubled. */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export class ArmRoleClient implements RoleClient {
  private readonly clients: PerSubscription<AuthorizationManagementClient>;
  private readonly subscriptions: ServiceClient;
  private readonly endpoint: string;

  constructor(settings: ArmSettings, private readonly calls: ServiceCalls) {
    const options = armClientOptions(settings);
    this.endpoint = options.endpoint;
    this.clients = new PerSubscription((subscriptionId) => new AuthorizationManagementClient(settings.credential, subscriptionId, options));
    this.subscriptions = new ServiceClient({ ...options, baseUri: options.endpoint });
    this.subscriptions.pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: settings.credential, scopes: options.credentialScopes }));
  }

  private clientForScope(scope: string): AuthorizationManagementClient {
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
    // arm-authorization requires a subscription even for scope-based calls; it is not used in their URLs.
    return this.clients.get(subscriptionId ?? '00000000-0000-0000-0000-000000000000');
  }

  findRoleDefinition(scope: string, nameOrGuid: string): Promise<RoleDefinition | undefined> {
    const client = this.clientForScope(scope);
    // arm-authorization puts `scope` into the path unencoded after a slash; without the leading one the
    // request reads `/subscriptions/…` rather than `//subscriptions/…`.
    const relativeScope = scope.replace(/^\/+/, '');
    return this.calls.run({
      what: `look up role ${nameOrGuid}`,
      operation: async (_, abortSignal) => {
        if (GUID.test(nameOrGuid)) {
          return notFoundAsUndefined(async () => toRoleDefinition(await client.roleDefinitions.get(relativeScope, nameOrGuid.toLowerCase(), { abortSignal })), ['RoleDefinitionDoesNotExist']);
        }
        for await (const definition of client.roleDefinitions.list(relativeScope, { filter: `roleName eq ${odataString(nameOrGuid)}`, abortSignal })) {
          if ((definition.roleName ?? '').toLowerCase() === nameOrGuid.toLowerCase()) return toRoleDefinition(definition);
        }
        return undefined;
      },
    });
  }

  listAssignmentsForPrincipal(subscriptionId: string, principalId: string): Promise<RoleAssignment[]> {
    return this.listForSubscription(`list role assignments of ${principalId}`, subscriptionId, `principalId eq ${odataString(principalId)}`);
  }

  listAssignmentsInSubscription(subscriptionId: string): Promise<RoleAssignment[]> {
    return this.listForSubscription(`list role assignments in subscription ${subscriptionId}`, subscriptionId);
  }

  private listForSubscription(what: string, subscriptionId: string, filter?: string): Promise<RoleAssignment[]> {
    return this.calls.run({
      what,
      operation: async (_, abortSignal) => {
        const assignments: RoleAssignment[] = [];
        for await (const assignment of this.clients.get(subscriptionId).roleAssignments.listForSubscription({ ...(filter === undefined ? {} : { filter }), abortSignal })) {
          assignments.push(toRoleAssignment(assignment));
        }
        return assignments;
      },
    });
  }

  createAssignment(request: RoleAssignmentRequest): Promise<RoleAssignment> {
    const client = this.clientForScope(request.scope);
    return this.calls.run({
      what: `assign role ${request.roleDefinitionId.split('/').pop()} on ${request.scope}`,
      operation: async (_, abortSignal) => {
        try {
          return toRoleAssignment(
            await client.roleAssignments.create(
              request.scope.replace(/^\/+/, ''),
              request.name,
              { roleDefinitionId: request.roleDefinitionId, principalId: request.principalId, principalType: request.principalType, description: request.description },
              { abortSignal },
            ),
          );
        } catch (error) {
          // The same role, principal and scope under another name (another tool, a person): converged.
          const failure = describeFailure(error);
          if (failure.code === 'RoleAssignmentExists') return existingAssignment(request, failure.message);
          throw error;
        }
      },
      // Even with principalType set, a brand-new identity can be briefly unknown to Authorization. Backed off,
      // not polled: every attempt is an ARM write and takes a token from the subscription's write bucket.
      retryCodes: ['PrincipalNotFound'],
      translate: (failure) => this.assignmentConflict(request, failure),
    });
  }

  /** By full id (`{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`): 200, or 204 when already gone. */
  deleteAssignment(assignmentId: string): Promise<void> {
    return this.calls.run({
      what: `delete role assignment ${assignmentId.split('/').pop()}`,
      operation: (_, abortSignal) => goneIsDone(() => this.clientForScope(assignmentId).roleAssignments.deleteById(assignmentId.replace(/^\/+/, ''), { abortSignal })),
    });
  }

  private assignmentConflict(request: RoleAssignmentRequest, failure: ServiceFailure): TaskError | undefined {
    if (failure.code === 'RoleAssignmentUpdateNotPermitted') {
      return new TaskError('MIC306', `Role assignment ${request.name} exists for another principal, role or scope than ${request.principalId} on ${request.scope}: ${failure.message}`);
    }
    return undefined;
  }

  getSubscription(subscriptionId: string): Promise<Subscription | undefined> {
    return this.calls.run({
      what: `read subscription ${subscriptionId}`,
      operation: async (_, abortSignal) => {
        const response = await this.subscriptions.sendRequest(
          createPipelineRequest({ url: `${this.endpoint}/subscriptions/${encodeURIComponent(subscriptionId)}?api-version=2022-12-01`, method: 'GET', abortSignal }),
        );
        if (response.status === 404 || response.status === 403) return undefined;
        const body = response.bodyAsText ? (JSON.parse(response.bodyAsText) as Record<string, unknown>) : {};
        if (response.status !== 200) throw Object.assign(new Error(String((body.error as { message?: string } | undefined)?.message ?? `HTTP ${response.status}`)), { name: 'RestError', statusCode: response.status, code: (body.error as { code?: string } | undefined)?.code, response });
        return { subscriptionId: String(body.subscriptionId ?? subscriptionId), displayName: String(body.displayName ?? ''), tenantId: String(body.tenantId ?? '') };
      },
    });
  }
}
