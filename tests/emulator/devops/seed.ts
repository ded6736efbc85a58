// The `devops` section of a seed document, the default world, and loading a seed into the module.
//
// Azure facts are not copied in: a connection names its identity by ARM resource id and the seed reads
// the identity (client id, principal id, tenant) and the subscription's name through ARM, then writes the
// connection's federated credential onto the identity through ARM (as trusted setup calls) with the
// issuer and subject read back from the connection just created — so AzurePipelinesCredential works
// from the bootstrap job's agentEnv alone.
import { randomUUID } from 'node:crypto';
import { responseJson } from './azure-calls';
import type { DevOpsService } from './devops-service';
import { createEndpoint, parameter, type EndpointInput } from './endpoint-store';
import { isWorkloadIdentityFederation } from './endpoint-types';
import { toIssuerType, TOKEN_EXCHANGE_AUDIENCE, type IssuerType } from './issuer-formats';
import type { AgentDirectories } from './jobs';
import { queueRun } from './pipeline-runs';
import { isEndpointRole, type ConnectionReference, type EndpointRole, type ExtendedTemplate, type Identity, type IdentityKind, type PipelineParameter } from './world';

/** The template the default world's bootstrap pipeline extends (a Required template check can name it). */
export const DEFAULT_BOOTSTRAP_TEMPLATE = { repositoryType: 'git', repositoryName: 'Platform/mic-templates', repositoryRef: 'refs/tags/v1.0.0', templatePath: 'templates/bootstrap.yml' };

export interface DevOpsSeed {
  organization: { name: string; id: string; tenantId?: string; issuerType?: IssuerType | 'AzureDevOps' };
  projects: Array<{ name: string; id: string; description?: string }>;
  identities: Array<{
    key: string;
    kind: IdentityKind;
    id?: string;
    displayName?: string;
    uniqueName?: string;
    /** A managed identity that is an organization member: its ids come from ARM. */
    armResourceId?: string;
    entraObjectId?: string;
    collectionAdministrator?: boolean;
    /** Project names (or ids) the identity is a member of. */
    projects?: string[];
    /** Project-level service connection role per project name. */
    serviceConnectionRoles?: Record<string, EndpointRole>;
  }>;
  pipelines: Array<{
    id: number;
    project: string;
    name: string;
    folder?: string;
    yamlPath?: string;
    repository?: { id: string; name: string };
    parameters?: PipelineParameter[];
    connectionReferences?: ConnectionReference[];
    /** The template its YAML extends, for Required template checks. */
    extends?: ExtendedTemplate;
  }>;
  /** Agent queues, environments, … that pipeline permissions may name. */
  pipelineResources?: Array<{ project: string; type: string; id: string; name: string }>;
  serviceConnections: Array<
    EndpointInput & {
      /** Fixed id (the default world's connection ids are stable). */
      id?: string;
      project: string;
      /** Identity key of the creator (becomes the connection's Administrator). */
      createdBy: string;
      /** Fill serviceprincipalid/tenantid (and subscription data) from this user-assigned identity. */
      identityResourceId?: string;
      /** Write a federated credential with the connection's issuer and subject onto the identity. */
      federatedCredentialName?: string;
      sharedWith?: string[];
      /** Pipeline ids in the owner project authorized to use it, or `all`. */
      authorizedPipelines?: number[] | 'all';
      /** The connection the JSON line reports as `bootstrapConnection`. */
      bootstrap?: boolean;
    }
  >;
  /** Running jobs; each is a run of its pipeline (connections come from the pipeline's references). */
  jobs: Array<{ pipeline: number; project: string; planId?: string; jobId?: string; templateParameters?: Record<string, string>; bootstrap?: boolean }>;
}

/** Fixed ids of the default world (docs/emulator.md, "The default world", lists them). */
export const DEFAULT_DEVOPS_IDS = {
  organizationId: '06b4c157-759b-4b4c-bb2a-303135a18867',
  platformProjectId: 'ee51e4ce-ef5f-4eae-9fe8-969f2e4a381b',
  appsProjectId: 'eada538d-6bd2-43d4-96c0-74d5b3bdda0e',
  buildServiceId: 'e8be1edd-fadc-483c-9b8b-554c0878f45b',
  ownerId: '4a02d6a4-0298-4071-880a-a8137ba52d0d',
  bootstrapIdentityMemberId: 'c1042012-259b-4834-859b-19bca10c1d6d',
  bootstrapConnectionId: 'a59d7818-50d4-4a3b-ac19-fcab848eaf8b',
  bootstrapPlanId: '44a21b42-3ece-465f-ac12-acc8b3ff5a9a',
  bootstrapJobId: '82e45f0b-00b5-449a-984f-bf0a58cdc3f9',
  repositoryId: 'a882dc43-4e45-4248-9cd9-5d8be0e75647',
} as const;

/**
 * The bootstrap identity of the Azure module's default world (its resource id is the only Azure fact the
 * default Azure DevOps world names; everything else is read through ARM).
 */
export const DEFAULT_BOOTSTRAP_IDENTITY_RESOURCE_ID =
  '/subscriptions/22222222-0000-4000-8000-000000000001/resourcegroups/rg-mic-bootstrap/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-mic-bootstrap';

export function defaultDevOpsSeed(): DevOpsSeed {
  const ids = DEFAULT_DEVOPS_IDS;
  return {
    organization: { name: 'contoso', id: ids.organizationId, issuerType: 'EntraID' },
    projects: [
      { name: 'Platform', id: ids.platformProjectId, description: 'Runs the bootstrap pipeline that provisions identities and connections.' },
      { name: 'Apps', id: ids.appsProjectId, description: 'Application teams; connections are shared into it.' },
    ],
    identities: [
      {
        key: 'buildService',
        kind: 'build-service',
        id: ids.buildServiceId,
        displayName: 'Platform Build Service (contoso)',
        uniqueName: `${ids.platformProjectId}@Build/${ids.organizationId}`,
        // A member of Apps too (so it can share connections there), but Creator only in Platform.
        projects: ['Platform', 'Apps'],
        serviceConnectionRoles: { Platform: 'Creator' },
      },
      {
        key: 'bootstrapIdentity',
        kind: 'managed-identity',
        id: ids.bootstrapIdentityMemberId,
        armResourceId: DEFAULT_BOOTSTRAP_IDENTITY_RESOURCE_ID,
        projects: ['Platform'],
        serviceConnectionRoles: { Platform: 'Creator' },
      },
      { key: 'owner', kind: 'user', id: ids.ownerId, displayName: 'Contoso Owner', uniqueName: 'owner@contoso.example', collectionAdministrator: true, projects: ['Platform', 'Apps'] },
    ],
    pipelines: [
      {
        id: 1,
        project: 'Platform',
        name: 'bootstrap',
        yamlPath: 'pipelines/bootstrap.yml',
        // Like a pipeline extending templates/bootstrap.yml: the queued verification run sets mode: verify, and
        // in verify mode the template references the spec's connections (here: named by `connections`).
        parameters: [
          { name: 'mode', type: 'string', default: 'provision' },
          { name: 'connections', type: 'object', default: '[]' },
        ],
        connectionReferences: [{ connection: 'bootstrap' }, { parameter: 'connections' }],
        extends: DEFAULT_BOOTSTRAP_TEMPLATE,
      },
      {
        id: 2,
        project: 'Platform',
        name: 'verify-connections',
        yamlPath: 'pipelines/verify-connections.yml',
        parameters: [{ name: 'connections', type: 'object', default: '[]' }],
        connectionReferences: [{ parameter: 'connections' }],
      },
      { id: 3, project: 'Apps', name: 'deploy-app', yamlPath: 'pipelines/deploy-app.yml' },
    ],
    pipelineResources: [{ project: 'Platform', type: 'queue', id: '1', name: 'Azure Pipelines' }],
    serviceConnections: [
      {
        id: ids.bootstrapConnectionId,
        bootstrap: true,
        project: 'Platform',
        createdBy: 'owner',
        name: 'bootstrap',
        type: 'AzureRM',
        url: 'https://management.azure.com/',
        description: 'The identity the ManagedIdentityConnections task runs as.',
        authorization: { scheme: 'WorkloadIdentityFederation', parameters: {} },
        data: { environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual' },
        identityResourceId: DEFAULT_BOOTSTRAP_IDENTITY_RESOURCE_ID,
        federatedCredentialName: 'azure-devops-contoso-bootstrap',
        authorizedPipelines: [1],
      },
    ],
    jobs: [{ pipeline: 1, project: 'Platform', planId: ids.bootstrapPlanId, jobId: ids.bootstrapJobId, bootstrap: true }],
  };
}

function seedError(message: string): Error {
  return new Error(`devops seed: ${message}`);
}

interface ArmIdentity {
  name: string;
  clientId: string;
  principalId: string;
  tenantId: string;
}

async function readIdentity(service: DevOpsService, resourceId: string): Promise<ArmIdentity> {
  const response = await service.ctx.internalFetch({ method: 'GET', path: `${resourceId}?api-version=2024-11-30`, host: 'management.azure.com', system: true });
  const json = responseJson(response) as { name?: string; properties?: { clientId?: string; principalId?: string; tenantId?: string } } | undefined;
  if (response.status !== 200 || !json?.properties?.clientId) {
    throw seedError(`cannot read the user-assigned identity ${resourceId} through ARM (${response.status}): is the azure module loaded and does its seed create it?`);
  }
  return { name: json.name ?? resourceId.split('/').pop()!, clientId: json.properties.clientId, principalId: json.properties.principalId ?? '', tenantId: json.properties.tenantId ?? '' };
}

async function subscriptionName(service: DevOpsService, subscriptionId: string): Promise<string> {
  const response = await service.ctx.internalFetch({ method: 'GET', path: `/subscriptions/${subscriptionId}?api-version=2016-06-01`, host: 'management.azure.com', system: true });
  const json = responseJson(response) as { displayName?: string } | undefined;
  return response.status === 200 && json?.displayName ? json.displayName : subscriptionId;
}

export interface SeededWorld {
  bootstrapConnectionId?: string;
  bootstrapJobId?: string;
}

export async function loadDevOpsSeed(service: DevOpsService, directories: AgentDirectories, seed: DevOpsSeed): Promise<SeededWorld> {
  const world = service.world;
  const armIdentities = new Map<string, ArmIdentity>();
  const identityAt = async (resourceId: string) => {
    const key = resourceId.toLowerCase();
    if (!armIdentities.has(key)) armIdentities.set(key, await readIdentity(service, resourceId));
    return armIdentities.get(key)!;
  };

  if (!seed.organization?.name || !seed.organization.id) throw seedError('organization needs name and id');
  const issuerType = seed.organization.issuerType === undefined ? 'EntraID' : toIssuerType(seed.organization.issuerType);
  if (issuerType === undefined) throw seedError(`organization.issuerType must be EntraID or DevOps (or its alias AzureDevOps)`);
  world.organization = { name: seed.organization.name, id: seed.organization.id.toLowerCase(), issuerType };
  const now = new Date().toISOString();
  for (const project of seed.projects ?? []) world.projects.push({ name: project.name, id: project.id.toLowerCase(), description: project.description ?? '', lastUpdateTime: now });

  for (const entry of seed.identities ?? []) {
    const arm = entry.armResourceId ? await identityAt(entry.armResourceId) : undefined;
    const id = (entry.id ?? randomUUID()).toLowerCase();
    const identity: Identity = {
      id,
      key: entry.key,
      kind: entry.kind,
      displayName: entry.displayName ?? arm?.name ?? entry.key,
      uniqueName: entry.uniqueName ?? (arm ? arm.clientId : entry.key),
      descriptor: `${entry.kind === 'user' ? 'aad' : entry.kind === 'build-service' ? 'svc' : 'aadsp'}.${Buffer.from(id).toString('base64url')}`,
      entraObjectId: entry.entraObjectId ?? arm?.principalId,
      entraClientId: arm?.clientId,
      collectionAdministrator: entry.collectionAdministrator ?? false,
      projectIds: new Set((entry.projects ?? []).map((name) => world.project(name).id)),
    };
    world.identities.push(identity);
    for (const [projectName, role] of Object.entries(entry.serviceConnectionRoles ?? {})) {
      if (!isEndpointRole(role)) throw seedError(`identity ${entry.key}: unknown role ${String(role)}`);
      world.setProjectRole(world.project(projectName).id, id, role);
    }
    // The organization is backed by the tenant of its Entra members unless the seed says otherwise.
    if (arm?.tenantId && !world.organization.tenantId) world.organization.tenantId = arm.tenantId;
  }
  if (seed.organization.tenantId) world.organization.tenantId = seed.organization.tenantId;

  for (const entry of seed.pipelines ?? []) {
    const project = world.project(entry.project);
    world.pipelines.push({
      id: entry.id,
      projectId: project.id,
      name: entry.name,
      folder: entry.folder ?? '\\',
      revision: 1,
      yamlPath: entry.yamlPath ?? 'azure-pipelines.yml',
      repository: entry.repository ?? { id: DEFAULT_DEVOPS_IDS.repositoryId, name: project.name },
      parameters: entry.parameters ?? [],
      connectionReferences: entry.connectionReferences ?? [],
      ...(entry.extends ? { extends: { ...entry.extends } } : {}),
    });
  }
  for (const entry of seed.pipelineResources ?? []) world.pipelineResources.push({ projectId: world.project(entry.project).id, type: entry.type, id: entry.id, name: entry.name });

  const result: SeededWorld = {};
  for (const entry of seed.serviceConnections ?? []) {
    const creator = world.findIdentity(entry.createdBy);
    if (!creator) throw seedError(`connection ${String(entry.name)}: unknown createdBy ${entry.createdBy}`);
    const input: EndpointInput = { ...entry, serviceEndpointProjectReferences: undefined };
    const authorization = (entry.authorization ?? {}) as { scheme?: string; parameters?: Record<string, string> };
    const parameters = { ...(authorization.parameters ?? {}) };
    const data = { ...((entry.data ?? {}) as Record<string, string>) };
    if (entry.identityResourceId) {
      const arm = await identityAt(entry.identityResourceId);
      parameters.serviceprincipalid ??= arm.clientId;
      parameters.tenantid ??= arm.tenantId;
      const subscriptionId = parameter(data, 'subscriptionId') ?? entry.identityResourceId.split('/')[2];
      data.subscriptionId ??= subscriptionId;
      data.subscriptionName ??= await subscriptionName(service, subscriptionId);
    }
    input.authorization = { ...authorization, parameters };
    input.data = data;
    const endpoint = createEndpoint(service, input, creator, { urlProject: world.project(entry.project), ...(entry.id ? { fixedId: entry.id.toLowerCase() } : {}) });
    for (const projectName of entry.sharedWith ?? []) endpoint.projectRefs.push({ projectId: world.project(projectName).id, name: endpoint.projectRefs[0].name, description: endpoint.projectRefs[0].description });
    if (entry.authorizedPipelines) {
      const projectId = endpoint.projectRefs[0].projectId;
      const grant = { authorizedById: creator.id, authorizedOn: now };
      world.permissions.set(world.permissionsKey(projectId, 'endpoint', endpoint.id), {
        projectId,
        type: 'endpoint',
        id: endpoint.id,
        allPipelines: entry.authorizedPipelines === 'all' ? grant : undefined,
        pipelines: new Map(entry.authorizedPipelines === 'all' ? [] : entry.authorizedPipelines.map((id) => [id, grant])),
      });
    }
    if (entry.federatedCredentialName && entry.identityResourceId && isWorkloadIdentityFederation(endpoint)) {
      const response = await service.ctx.internalFetch({
        method: 'PUT',
        path: `${entry.identityResourceId}/federatedIdentityCredentials/${entry.federatedCredentialName}?api-version=2024-11-30`,
        host: 'management.azure.com',
        system: true,
        body: {
          properties: {
            issuer: parameter(endpoint.authorization.parameters, 'workloadIdentityFederationIssuer'),
            subject: parameter(endpoint.authorization.parameters, 'workloadIdentityFederationSubject'),
            audiences: [TOKEN_EXCHANGE_AUDIENCE],
          },
        },
      });
      if (response.status >= 300) throw seedError(`writing the federated credential for ${endpoint.id} failed (${response.status}): ${JSON.stringify(responseJson(response))}`);
    }
    if (entry.bootstrap || result.bootstrapConnectionId === undefined) result.bootstrapConnectionId = endpoint.id;
  }

  for (const entry of seed.jobs ?? []) {
    const project = world.project(entry.project);
    const pipeline = world.findPipeline(project.id, entry.pipeline);
    if (!pipeline) throw seedError(`job: pipeline ${entry.pipeline} not in project ${entry.project}`);
    const owner = world.identities.find((identity) => identity.collectionAdministrator) ?? world.identities[0];
    const run = await queueRun(service, directories, {
      pipeline,
      requestedBy: owner,
      templateParameters: entry.templateParameters,
      planId: entry.planId,
      jobId: entry.jobId,
    });
    if (entry.bootstrap || result.bootstrapJobId === undefined) result.bootstrapJobId = run.jobIds[0];
  }
  return result;
}
