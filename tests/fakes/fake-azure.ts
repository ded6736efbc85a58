// In-memory ARM for the IdentityClient and RoleClient ports. It enforces the rules the task must live with, the
// way the real adapters would surface them (as TaskErrors with our codes):
// - identities: the resource group must exist; an identity cannot change location; ids are minted on create;
// - federated credentials: the name rule, exactly one audience, at most 20 per identity, an issuer+subject pair
//   at most once per identity, and NO concurrent writes under one identity (409, and the overlap is counted);
// - role assignments: GUID names; a name reused for another principal/role/scope is refused; the same
//   principal+role+scope under a second name is refused (RoleAssignmentExists); the principal must exist.
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
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
} from '../../tasks/ManagedIdentityConnections/src/ports/azure';
import { CallLog, fakeGuid } from './call-log';

export const builtInRoles = {
  owner: { guid: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635', roleName: 'Owner', actions: ['*'], notActions: [] },
  contributor: {
    guid: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
    roleName: 'Contributor',
    actions: ['*'],
    notActions: ['Microsoft.Authorization/*/Delete', 'Microsoft.Authorization/*/Write', 'Microsoft.Authorization/elevateAccess/Action', 'Microsoft.Blueprint/blueprintAssignments/write'],
  },
  reader: { guid: 'acdd72a7-3385-48ef-bd42-f606fba81ae7', roleName: 'Reader', actions: ['*/read'], notActions: [] },
  userAccessAdministrator: { guid: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9', roleName: 'User Access Administrator', actions: ['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*'], notActions: [] },
  rbacAdministrator: {
    guid: 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
    roleName: 'Role Based Access Control Administrator',
    actions: ['Microsoft.Authorization/roleAssignments/write', 'Microsoft.Authorization/roleAssignments/delete', '*/read'],
    notActions: [],
  },
  storageBlobDataContributor: {
    guid: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    roleName: 'Storage Blob Data Contributor',
    actions: ['Microsoft.Storage/storageAccounts/blobServices/containers/*'],
    notActions: [],
  },
} as const;

export interface FakeAzureSeed {
  readonly subscriptions: readonly Subscription[];
  /** `{subscriptionId}/{name}` pairs. */
  readonly resourceGroups: readonly { subscriptionId: string; name: string }[];
}

interface StoredIdentity {
  identity: Identity;
  readonly credentials: FederatedCredential[];
  readonly ref: IdentityRef;
}

const credentialNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$/;

export class FakeAzure {
  readonly identities = new Map<string, StoredIdentity>();
  readonly assignments: RoleAssignment[] = [];
  readonly roleDefinitions: RoleDefinition[] = Object.values(builtInRoles).map((role) => ({
    guid: role.guid,
    id: `/providers/Microsoft.Authorization/roleDefinitions/${role.guid}`,
    roleName: role.roleName,
    roleType: 'BuiltInRole',
    permissions: [{ actions: [...role.actions], notActions: [...role.notActions], dataActions: [], notDataActions: [] }],
  }));
  /** How many times two credential writes overlapped on one identity: must stay 0. */
  concurrentCredentialWrites = 0;
  private readonly credentialWritesInFlight = new Map<string, number>();
  private readonly subscriptions: Map<string, Subscription>;
  private readonly resourceGroups: Set<string>;
  private minted = 0;

  constructor(
    private readonly log: CallLog,
    seed: FakeAzureSeed,
  ) {
    this.subscriptions = new Map(seed.subscriptions.map((subscription) => [subscription.subscriptionId.toLowerCase(), subscription]));
    this.resourceGroups = new Set(seed.resourceGroups.map((group) => `${group.subscriptionId}/${group.name}`.toLowerCase()));
  }

  // ——— Seeding and inspection for tests ———

  seedIdentity(ref: IdentityRef, properties: { location: string; tags?: Record<string, string>; credentials?: FederatedCredential[] }): Identity {
    const identity = this.mint(ref, properties.location, properties.tags ?? {});
    this.identities.set(key(ref), { identity, credentials: [...(properties.credentials ?? [])], ref });
    return identity;
  }

  seedAssignment(assignment: Omit<RoleAssignment, 'id'>): void {
    this.assignments.push({ ...assignment, id: `${assignment.scope}/providers/Microsoft.Authorization/roleAssignments/${assignment.name}` });
  }

  addCustomRole(roleName: string, guid: string, actions: string[], notActions: string[] = []): void {
    this.roleDefinitions.push({ guid, id: `/providers/Microsoft.Authorization/roleDefinitions/${guid}`, roleName, roleType: 'CustomRole', permissions: [{ actions, notActions, dataActions: [], notDataActions: [] }] });
  }

  /** Deletes and re-creates an identity under the same name: new client and principal ids, no credentials. */
  recreateIdentity(ref: IdentityRef): Identity {
    const stored = this.identities.get(key(ref))!;
    return this.seedIdentity(ref, { location: stored.identity.location, tags: { ...stored.identity.tags } });
  }

  credentialsOf(ref: IdentityRef): FederatedCredential[] {
    return this.identities.get(key(ref))?.credentials ?? [];
  }

  identityByClientId(clientId: string): StoredIdentity | undefined {
    return [...this.identities.values()].find((stored) => stored.identity.clientId.toLowerCase() === clientId.toLowerCase());
  }

  subscription(subscriptionId: string): Subscription | undefined {
    return this.subscriptions.get(subscriptionId.toLowerCase());
  }

  private nameOfPrincipal(principalId: string): string {
    return [...this.identities.values()].find((stored) => stored.identity.principalId === principalId)?.ref.name ?? principalId;
  }

  private mint(ref: IdentityRef, location: string, tags: Record<string, string>): Identity {
    this.minted += 1;
    const tenantId = this.subscriptions.get(ref.subscriptionId.toLowerCase())?.tenantId ?? 'unknown-tenant';
    return {
      id: `/subscriptions/${ref.subscriptionId}/resourcegroups/${ref.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${ref.name}`,
      name: ref.name,
      clientId: fakeGuid('c1', this.minted),
      principalId: fakeGuid('p1', this.minted),
      tenantId,
      location,
      tags,
    };
  }

  // ——— Ports ———

  readonly identityClient: IdentityClient = {
    getIdentity: (ref) =>
      this.log.record({ port: 'identities', method: 'getIdentity', args: [ref], write: false, subject: ref.name }, () => {
        const stored = this.identities.get(key(ref));
        return stored ? { ...stored.identity, tags: { ...stored.identity.tags } } : undefined;
      }),

    listIdentities: (subscriptionId, resourceGroup) =>
      this.log.record({ port: 'identities', method: 'listIdentities', args: [subscriptionId, resourceGroup], write: false, subject: resourceGroup }, () =>
        [...this.identities.values()]
          .filter((stored) => `${stored.ref.subscriptionId}/${stored.ref.resourceGroup}`.toLowerCase() === `${subscriptionId}/${resourceGroup}`.toLowerCase())
          .map((stored) => ({ ...stored.identity, tags: { ...stored.identity.tags } })),
      ),

    listIdentitiesInSubscription: (subscriptionId) =>
      this.log.record({ port: 'identities', method: 'listIdentitiesInSubscription', args: [subscriptionId], write: false, subject: subscriptionId }, () =>
        [...this.identities.values()]
          .filter((stored) => stored.ref.subscriptionId.toLowerCase() === subscriptionId.toLowerCase())
          .map((stored) => ({ ...stored.identity, tags: { ...stored.identity.tags } })),
      ),

    createOrUpdateIdentity: (ref: IdentityRef, properties: IdentityProperties) =>
      this.log.record({ port: 'identities', method: 'createOrUpdateIdentity', args: [ref, properties], write: true, subject: ref.name }, () => {
        if (!this.resourceGroups.has(`${ref.subscriptionId}/${ref.resourceGroup}`.toLowerCase())) {
          throw new TaskError('MIC205', `Resource group ${ref.resourceGroup} could not be found (ResourceGroupNotFound).`);
        }
        const stored = this.identities.get(key(ref));
        if (stored) {
          if (location(stored.identity.location) !== location(properties.location)) {
            throw new TaskError('MIC604', `InvalidResourceLocation: identity ${ref.name} already exists in ${stored.identity.location}.`);
          }
          stored.identity = { ...stored.identity, tags: { ...properties.tags } };
          return { ...stored.identity };
        }
        const identity = this.mint(ref, properties.location, { ...properties.tags });
        this.identities.set(key(ref), { identity, credentials: [], ref });
        return { ...identity };
      }),

    listFederatedCredentials: (ref) =>
      this.log.record({ port: 'identities', method: 'listFederatedCredentials', args: [ref], write: false, subject: ref.name }, () => {
        const stored = this.identities.get(key(ref));
        if (!stored) throw new TaskError('MIC604', `ParentResourceNotFound: identity ${ref.name} does not exist.`);
        return stored.credentials.map((credential) => ({ ...credential, audiences: [...credential.audiences] }));
      }),

    deleteIdentity: (ref) =>
      this.log.record({ port: 'identities', method: 'deleteIdentity', args: [ref], write: true, subject: ref.name }, () => {
        // ARM deletes the identity's service principal with it; its role assignments stay, naming a principal
        // that no longer exists, which is why the task removes them first.
        this.identities.delete(key(ref));
      }),

    deleteFederatedCredential: async (ref, name) => {
      const identityKey = key(ref);
      const inFlight = this.credentialWritesInFlight.get(identityKey) ?? 0;
      this.credentialWritesInFlight.set(identityKey, inFlight + 1);
      try {
        await this.log.record({ port: 'identities', method: 'deleteFederatedCredential', args: [ref, name], write: true, subject: ref.name }, () => {
          if (inFlight > 0) {
            this.concurrentCredentialWrites += 1;
            throw new TaskError('MIC206', `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity: too many federated identity credentials are written concurrently for ${ref.name}.`);
          }
          const stored = this.identities.get(identityKey);
          if (!stored) return; // gone with its identity: nothing left to delete
          const index = stored.credentials.findIndex((existing) => existing.name.toLowerCase() === name.toLowerCase());
          if (index >= 0) stored.credentials.splice(index, 1);
        });
      } finally {
        this.credentialWritesInFlight.set(identityKey, (this.credentialWritesInFlight.get(identityKey) ?? 1) - 1);
      }
    },

    putFederatedCredential: async (ref, credential) => {
      const identityKey = key(ref);
      const inFlight = this.credentialWritesInFlight.get(identityKey) ?? 0;
      this.credentialWritesInFlight.set(identityKey, inFlight + 1);
      try {
        return await this.log.record({ port: 'identities', method: 'putFederatedCredential', args: [ref, credential], write: true, subject: ref.name }, () => {
          if (inFlight > 0) {
            this.concurrentCredentialWrites += 1;
            throw new TaskError('MIC206', `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity: too many federated identity credentials are written concurrently for ${ref.name}.`);
          }
          const stored = this.identities.get(identityKey);
          if (!stored) throw new TaskError('MIC604', `ParentResourceNotFound: identity ${ref.name} does not exist.`);
          if (!credentialNamePattern.test(credential.name)) throw new TaskError('MIC207', `Federated Identity Credential name '${credential.name}' is invalid.`);
          if (credential.audiences.length !== 1) throw new TaskError('MIC207', 'A federated identity credential must have exactly one audience.');
          const index = stored.credentials.findIndex((existing) => existing.name.toLowerCase() === credential.name.toLowerCase());
          const pairTaken = stored.credentials.some(
            (existing, position) => position !== index && existing.issuer === credential.issuer && existing.subject === credential.subject,
          );
          if (pairTaken) throw new TaskError('MIC207', 'Issuer and subject combination already exists for this Managed Identity.');
          if (index < 0 && stored.credentials.length >= 20) throw new TaskError('MIC202', `Identity ${ref.name} already has 20 federated identity credentials.`);
          const copy = { ...credential, audiences: [...credential.audiences] };
          if (index >= 0) stored.credentials[index] = copy;
          else stored.credentials.push(copy);
          return { ...copy };
        });
      } finally {
        this.credentialWritesInFlight.set(identityKey, (this.credentialWritesInFlight.get(identityKey) ?? 1) - 1);
      }
    },
  };

  readonly roleClient: RoleClient = {
    findRoleDefinition: (scope, nameOrGuid) =>
      this.log.record({ port: 'roles', method: 'findRoleDefinition', args: [scope, nameOrGuid], write: false, subject: nameOrGuid }, () => {
        const wanted = nameOrGuid.toLowerCase();
        const definition = this.roleDefinitions.find((candidate) => candidate.guid === wanted || candidate.roleName.toLowerCase() === wanted);
        return definition ? { ...definition, id: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${definition.guid}` } : undefined;
      }),

    listAssignmentsForPrincipal: (subscriptionId, principalId) =>
      this.log.record(
        { port: 'roles', method: 'listAssignmentsForPrincipal', args: [subscriptionId, principalId], write: false, subject: this.nameOfPrincipal(principalId) },
        () => this.assignments.filter((assignment) => assignment.principalId === principalId && assignment.scope.toLowerCase().startsWith(`/subscriptions/${subscriptionId.toLowerCase()}`)),
      ),

    createAssignment: (request: RoleAssignmentRequest) =>
      this.log.record({ port: 'roles', method: 'createAssignment', args: [request], write: true, subject: this.nameOfPrincipal(request.principalId) }, () => {
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(request.name)) throw new TaskError('MIC604', `InvalidRoleAssignmentId: ${request.name} is not a GUID.`);
        if (request.principalType !== 'ServicePrincipal') throw new TaskError('MIC305', `PrincipalNotFound: principal ${request.principalId} does not exist in the directory.`);
        if (![...this.identities.values()].some((stored) => stored.identity.principalId === request.principalId)) {
          throw new TaskError('MIC305', `PrincipalNotFound: principal ${request.principalId} does not exist in the directory.`);
        }
        const guid = request.roleDefinitionId.split('/').pop()!.toLowerCase();
        const sameName = this.assignments.find((assignment) => assignment.name === request.name);
        const sameGrant = (assignment: RoleAssignment): boolean =>
          assignment.principalId === request.principalId && assignment.roleDefinitionId.split('/').pop()!.toLowerCase() === guid && assignment.scope.toLowerCase() === request.scope.toLowerCase();
        if (sameName) {
          if (sameGrant(sameName)) return { ...sameName };
          throw new TaskError('MIC306', 'RoleAssignmentUpdateNotPermitted: Tenant ID, application ID, principal ID, and scope are not allowed to be updated.');
        }
        if (this.assignments.some(sameGrant)) throw new TaskError('MIC604', 'RoleAssignmentExists: The role assignment already exists.');
        const assignment: RoleAssignment = {
          id: `${request.scope}/providers/Microsoft.Authorization/roleAssignments/${request.name}`,
          name: request.name,
          scope: request.scope,
          roleDefinitionId: request.roleDefinitionId,
          principalId: request.principalId,
          principalType: request.principalType,
          description: request.description,
        };
        this.assignments.push(assignment);
        return { ...assignment };
      }),

    listAssignmentsInSubscription: (subscriptionId) =>
      this.log.record({ port: 'roles', method: 'listAssignmentsInSubscription', args: [subscriptionId], write: false, subject: subscriptionId }, () =>
        this.assignments.filter((assignment) => assignment.scope.toLowerCase().startsWith(`/subscriptions/${subscriptionId.toLowerCase()}`)).map((assignment) => ({ ...assignment })),
      ),

    deleteAssignment: (assignmentId) =>
      this.log.record({ port: 'roles', method: 'deleteAssignment', args: [assignmentId], write: true, subject: assignmentId.split('/').pop()! }, () => {
        const index = this.assignments.findIndex((assignment) => assignment.id.toLowerCase() === assignmentId.toLowerCase());
        if (index >= 0) this.assignments.splice(index, 1);
      }),

    getSubscription: (subscriptionId) =>
      this.log.record({ port: 'roles', method: 'getSubscription', args: [subscriptionId], write: false, subject: subscriptionId }, () => this.subscriptions.get(subscriptionId.toLowerCase())),
  };
}

function key(ref: IdentityRef): string {
  return `${ref.subscriptionId}/${ref.resourceGroup}/${ref.name}`.toLowerCase();
}

function location(value: string): string {
  return value.toLowerCase().replace(/\s+/g, '');
}
