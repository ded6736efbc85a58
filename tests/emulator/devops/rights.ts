// Service connection security as Azure DevOps documents it: project-level roles (Reader, User, Creator,
// Administrator) inherited by every connection in the project, connection-level roles (the creator becomes
// Administrator of what it creates), Project Collection Administrators above all. Creating needs Creator
// in the project; updating, sharing, authorizing pipelines and deleting need Administrator on the connection.
//
// Only the create message is Azure DevOps' own wording (seen in the wild); the others are [U].
import { adoError } from './ado-errors';
import type { Caller } from './callers';
import type { DevOpsWorld, EndpointRole, Identity, Project, ServiceEndpoint } from './world';
import { projectNotFound, roleRank } from './world';

export const CREATOR_REQUIRED = 'You do not have permission to create a service connection. You need to be a Creator for service connections in this project.';

export type AdministratorAction = 'update' | 'share' | 'delete' | 'authorize pipelines for' | 'use';

export function administratorRequired(action: AdministratorAction, connectionName: string): string {
  return `You do not have permission to ${action} the service connection '${connectionName}'. You need to be an Administrator of this service connection.`;
}

function isMember(identity: Identity, project: Project): boolean {
  return identity.collectionAdministrator || identity.projectIds.has(project.id);
}

/** Projects a caller cannot see answer like projects that do not exist (Azure DevOps does not leak them). */
export function requireProjectAccess(world: DevOpsWorld, caller: Caller, nameOrId: string): Project {
  const project = world.project(nameOrId);
  if (!isMember(caller.identity, project)) throw projectNotFound(nameOrId);
  return project;
}

export function canSeeProject(identity: Identity, project: Project): boolean {
  return isMember(identity, project);
}

/**
 * The caller's role on a connection: the best of its connection-level role, its project-level role in any
 * project the connection is in (project Creator acts as User on existing connections), Reader for project
 * members, Administrator for Project Collection Administrators.
 */
export function endpointRole(world: DevOpsWorld, identity: Identity, endpoint: ServiceEndpoint): EndpointRole | undefined {
  if (identity.collectionAdministrator) return 'Administrator';
  let best: EndpointRole | undefined = endpoint.roles.get(identity.id);
  for (const ref of endpoint.projectRefs) {
    const projectRole = world.projectRole(ref.projectId, identity.id);
    const inherited: EndpointRole | undefined = projectRole === 'Creator' ? 'User' : projectRole ?? (identity.projectIds.has(ref.projectId) ? 'Reader' : undefined);
    if (roleRank(inherited) > roleRank(best)) best = inherited;
  }
  return best;
}

export function requireCreator(world: DevOpsWorld, caller: Caller, project: Project): void {
  if (caller.identity.collectionAdministrator) return;
  if (roleRank(world.projectRole(project.id, caller.identity.id)) >= roleRank('Creator')) return;
  throw adoError(403, 'AccessCheckException', CREATOR_REQUIRED);
}

export function requireEndpointAdministrator(world: DevOpsWorld, caller: Caller, endpoint: ServiceEndpoint, action: AdministratorAction, projectId?: string): void {
  if (roleRank(endpointRole(world, caller.identity, endpoint)) >= roleRank('Administrator')) return;
  const name = (projectId ? world.projectReference(endpoint, projectId) : undefined)?.name ?? endpoint.projectRefs[0]?.name ?? endpoint.id;
  throw adoError(403, 'AccessCheckException', administratorRequired(action, name));
}

/** Whether the caller sees the connection at all (any role); invisible connections read as absent. */
export function canSeeEndpoint(world: DevOpsWorld, identity: Identity, endpoint: ServiceEndpoint): boolean {
  return roleRank(endpointRole(world, identity, endpoint)) >= roleRank('Reader');
}
