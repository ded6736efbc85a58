// Everything the Azure DevOps module knows: one organization with its projects, identities and their
// roles, service connections, pipelines with their runs, pipeline permissions and the simulated jobs that
// stand in for running agents. Plain data plus lookups; the rules live with the routes that enforce them.
import type { IssuerType } from './issuer-formats';
import { adoError } from './ado-errors';

export interface Organization {
  name: string;
  id: string;
  /** The Entra tenant backing the organization: Entra access tokens must come from it. */
  tenantId?: string;
  /** Issuer format new workload identity federation connections get (a per-organization setting). */
  issuerType: IssuerType;
}

export interface Project {
  id: string;
  name: string;
  description: string;
  lastUpdateTime: string;
}

export type IdentityKind = 'user' | 'build-service' | 'managed-identity' | 'service-principal';

export interface Identity {
  id: string;
  /** Short name used by the seed and the control API (`buildService`, `owner`, …). */
  key: string;
  kind: IdentityKind;
  displayName: string;
  uniqueName: string;
  descriptor: string;
  /** Entra object id (`oid` claim) for identities that sign in with an Entra access token. */
  entraObjectId?: string;
  /** Entra application (client) id, for managed identities and service principals. */
  entraClientId?: string;
  /** Project Collection Administrators can do everything. */
  collectionAdministrator: boolean;
  /** Projects the identity is a member of (a member can read them and their connections). */
  projectIds: Set<string>;
}

/** Service connection security roles, weakest first. `Creator` exists only at project level. */
export const ENDPOINT_ROLES = ['Reader', 'User', 'Creator', 'Administrator'] as const;
export type EndpointRole = (typeof ENDPOINT_ROLES)[number];

export function roleRank(role: EndpointRole | undefined): number {
  return role ? ENDPOINT_ROLES.indexOf(role) + 1 : 0;
}

export function isEndpointRole(value: unknown): value is EndpointRole {
  return typeof value === 'string' && (ENDPOINT_ROLES as readonly string[]).includes(value);
}

export interface EndpointProjectReference {
  projectId: string;
  /** A shared connection can carry another name in each project. */
  name: string;
  description: string;
}

export interface OperationStatus {
  state: 'Ready' | 'InProgress' | 'Failed';
  statusMessage: string;
}

export interface ServiceEndpoint {
  id: string;
  type: string;
  url: string;
  owner: string;
  data: Record<string, string>;
  /** Stored with secrets; every response goes through `renderEndpoint`, which nulls them. */
  authorization: { scheme: string; parameters: Record<string, string> };
  isReady: boolean;
  isDisabled: boolean;
  operationStatus: OperationStatus;
  createdById: string;
  /** The first reference is the owner project (the legacy `sc://` subject names it). */
  projectRefs: EndpointProjectReference[];
  /** Roles granted on this connection itself (the creator becomes Administrator). */
  roles: Map<string, EndpointRole>;
  createdAt: string;
  /** After ConvertAuthenticationScheme (with `devops.convertKeepsSecret`): the authorization a revert restores. */
  revertTo?: { scheme: string; parameters: Record<string, string> };
}

export interface PipelineParameter {
  name: string;
  type: 'string' | 'boolean' | 'number' | 'object';
  default?: string;
}

/** How a pipeline's YAML names a service connection: literally, or through a template parameter. */
export type ConnectionReference = { connection: string } | { parameter: string };

export interface Pipeline {
  id: number;
  projectId: string;
  name: string;
  folder: string;
  revision: number;
  yamlPath: string;
  repository: { id: string; name: string };
  parameters: PipelineParameter[];
  connectionReferences: ConnectionReference[];
  /** The template its YAML extends (what a Required template check compares); absent: none. */
  extends?: ExtendedTemplate;
}

export interface ExtendedTemplate {
  repositoryType: string;
  repositoryName: string;
  repositoryRef: string;
  templatePath: string;
}

/** A check configuration (Approvals and checks) on a protected resource, as the REST API holds it. */
export interface CheckConfigurationRecord {
  id: number;
  projectId: string;
  type: { id: string; name: string };
  settings: Record<string, unknown>;
  timeout: number;
  resource: { type: string; id: string; name: string };
  createdById: string;
  createdOn: string;
  modifiedById: string;
  modifiedOn: string;
}

/** Non-connection resources pipeline permissions can name (agent queues, environments, …). */
export interface PipelineResource {
  projectId: string;
  type: string;
  id: string;
  name: string;
}

export interface PermissionGrant {
  authorizedById: string;
  authorizedOn: string;
}

export interface ResourcePermissions {
  projectId: string;
  type: string;
  id: string;
  allPipelines?: PermissionGrant;
  pipelines: Map<number, PermissionGrant>;
}

export type RunState = 'inProgress' | 'canceling' | 'completed';
export type RunResult = 'succeeded' | 'failed' | 'canceled';

export interface PipelineRun {
  id: number;
  pipelineId: number;
  projectId: string;
  name: string;
  state: RunState;
  result?: RunResult;
  createdDate: string;
  finishedDate?: string;
  templateParameters: Record<string, string>;
  refName: string;
  requestedById: string;
  jobIds: string[];
  /** Approval checks still waiting (their configuration ids); the job starts once none is left. */
  pendingApprovals?: number[];
  /** The job to start once approved. */
  deferredJob?: () => Promise<void>;
  /** Why a check stopped the run before any job (a Required template the pipeline does not extend). */
  checkFailure?: string;
}

/** A job as an agent would be running it: the ids in its environment and the connections it references. */
export interface SimulatedJob {
  planId: string;
  jobId: string;
  projectId: string;
  pipelineId: number;
  runId: number;
  hubName: 'build';
  stageName: string;
  jobName: string;
  /** Connections referenced by task inputs in this job: the only ones it may get ID tokens for. */
  connectionIds: string[];
  /** Whose identity `System.AccessToken` carries (the project's build service). */
  identityId: string;
  accessToken: string;
  accessTokenExpiresOn: string;
  /** Created by the emulator; the agent's `Agent.TempDirectory`. */
  tempDirectory: string;
  startedAt: string;
  finishedAt?: string;
}

function sameText(a: string, b: string): boolean {
  return a.localeCompare(b, undefined, { sensitivity: 'accent' }) === 0;
}

export class DevOpsWorld {
  organization: Organization = { name: '', id: '', issuerType: 'EntraID' };
  readonly projects: Project[] = [];
  readonly identities: Identity[] = [];
  /** Project-level service connection roles: projectId → identityId → role. */
  readonly projectRoles = new Map<string, Map<string, EndpointRole>>();
  readonly endpoints = new Map<string, ServiceEndpoint>();
  readonly pipelines: Pipeline[] = [];
  readonly pipelineResources: PipelineResource[] = [];
  readonly permissions = new Map<string, ResourcePermissions>();
  readonly runs: PipelineRun[] = [];
  readonly jobs = new Map<string, SimulatedJob>();
  nextRunId = 1;
  readonly checks: CheckConfigurationRecord[] = [];
  nextCheckId = 1;

  findProject(nameOrId: string): Project | undefined {
    return this.projects.find((project) => sameText(project.id, nameOrId) || sameText(project.name, nameOrId));
  }

  /** The project or Azure DevOps' 404 (TF200016 by name, VS800075 by id). */
  project(nameOrId: string): Project {
    const project = this.findProject(nameOrId);
    if (project) return project;
    throw projectNotFound(nameOrId);
  }

  findIdentity(idOrKey: string): Identity | undefined {
    return this.identities.find((identity) => sameText(identity.id, idOrKey) || identity.key === idOrKey);
  }

  identity(id: string): Identity {
    const identity = this.findIdentity(id);
    if (!identity) throw new Error(`unknown identity ${id}`);
    return identity;
  }

  endpointsInProject(projectId: string): ServiceEndpoint[] {
    return [...this.endpoints.values()].filter((endpoint) => endpoint.projectRefs.some((ref) => ref.projectId === projectId));
  }

  projectReference(endpoint: ServiceEndpoint, projectId: string): EndpointProjectReference | undefined {
    return endpoint.projectRefs.find((ref) => ref.projectId === projectId);
  }

  /** The connection in the project with this name (names are unique per project, ignoring case). */
  endpointByName(projectId: string, name: string): ServiceEndpoint | undefined {
    return this.endpointsInProject(projectId).find((endpoint) => sameText(this.projectReference(endpoint, projectId)!.name, name));
  }

  findPipeline(projectId: string, id: number): Pipeline | undefined {
    return this.pipelines.find((pipeline) => pipeline.projectId === projectId && pipeline.id === id);
  }

  permissionsKey(projectId: string, type: string, id: string): string {
    return `${projectId}|${type.toLowerCase()}|${id.toLowerCase()}`;
  }

  projectRole(projectId: string, identityId: string): EndpointRole | undefined {
    return this.projectRoles.get(projectId)?.get(identityId);
  }

  setProjectRole(projectId: string, identityId: string, role: EndpointRole | undefined): void {
    const roles = this.projectRoles.get(projectId) ?? new Map<string, EndpointRole>();
    if (role) roles.set(identityId, role);
    else roles.delete(identityId);
    this.projectRoles.set(projectId, roles);
  }
}

export { sameText };

/** Azure DevOps' 404 for a project that does not exist or that the caller may not see. */
export function projectNotFound(nameOrId: string): Error {
  if (/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(nameOrId)) {
    return adoError(404, 'ProjectDoesNotExistException', `VS800075: The project with id 'vstfs:///Classification/TeamProject/${nameOrId}' does not exist, or you do not have permission to access it.`);
  }
  return adoError(
    404,
    'ProjectDoesNotExistWithNameException',
    `TF200016: The following project does not exist: ${nameOrId}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.`,
  );
}
