// Ownership markers: how the task recognises, without a state file, what it created and may therefore delete
// or narrow. Every rule here is public (docs/lifecycle.md) and must stay stable: a changed marker turns every
// object an earlier version created into "not owned, left alone".
//
//   identity          tags managed-by=ManagedIdentityConnections, managed-by-project={project id},
//                     managed-by-environment={environment}
//   connection        data.managedBy = ManagedIdentityConnections/{project id}/{environment}; or, without it,
//                     the connection signs in as an owned identity through one of our credentials
//   federated cred.   on an owned identity, a name starting with `azdo-` (names.ts federatedCredentialName)
//   role assignment   on an owned identity's principal, our description, or the name our rule derives
import type { Identity, ProjectRef, RoleAssignment, ServiceConnection } from './model';
import { federatedCredentialPrefix, roleAssignmentName, roleDefinitionGuidOf } from './names';

/** What the default description of every connection, and every role assignment's description, says. */
export const ownershipMarker = 'Managed by the ManagedIdentityConnections task';
export const ownerTag = 'managed-by';
export const ownerTagValue = 'ManagedIdentityConnections';
export const ownerProjectTag = 'managed-by-project';
export const ownerEnvironmentTag = 'managed-by-environment';
/** On an identity the convert command made for one connection: that connection's id (docs/lifecycle.md, "Convert"). */
export const convertedConnectionTag = 'managed-by-connection';
/** On that identity: the app (client) id the connection signed in as before, for role parity on a rerun. */
export const convertedFromAppTag = 'converted-from-app';

/** The tags that mark an identity as this project's, for this environment. */
export function ownershipTags(project: ProjectRef, environment: string): Record<string, string> {
  return { [ownerTag]: ownerTagValue, [ownerProjectTag]: project.id.toLowerCase(), [ownerEnvironmentTag]: environment };
}

function tag(identity: Identity, name: string): string | undefined {
  const key = Object.keys(identity.tags).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : identity.tags[key];
}

export type IdentityOwnership =
  | { readonly kind: 'ours'; readonly environment: string }
  | { readonly kind: 'unmarked' }
  /** Marked by this task for another project, or by something else under the same tag name. */
  | { readonly kind: 'foreign'; readonly owner: string };

export function identityOwnership(identity: Identity, project: ProjectRef): IdentityOwnership {
  const owner = tag(identity, ownerTag);
  if (owner === undefined) return { kind: 'unmarked' };
  if (owner !== ownerTagValue) return { kind: 'foreign', owner };
  const ownerProject = tag(identity, ownerProjectTag);
  if (ownerProject?.toLowerCase() !== project.id.toLowerCase()) return { kind: 'foreign', owner: `${owner} for project ${ownerProject ?? '(none)'}` };
  return { kind: 'ours', environment: tag(identity, ownerEnvironmentTag) ?? '' };
}

/**
 * The tags of an identity the convert command creates for a connection: ours for this project (no environment:
 * it belongs to no environment of a spec, and prune leaves it alone), the connection it serves and the app id
 * the connection used before.
 */
export function conversionTags(project: ProjectRef, connectionId: string, appId: string): Record<string, string> {
  return { [ownerTag]: ownerTagValue, [ownerProjectTag]: project.id.toLowerCase(), [convertedConnectionTag]: connectionId.toLowerCase(), [convertedFromAppTag]: appId.toLowerCase() };
}

/** The connection an identity was created for by convert, when it is one of ours for this project. */
export function conversionOf(identity: Identity, project: ProjectRef): { readonly connectionId: string; readonly appId?: string } | undefined {
  if (identityOwnership(identity, project).kind !== 'ours') return undefined;
  const connectionId = tag(identity, convertedConnectionTag);
  if (connectionId === undefined) return undefined;
  const appId = tag(identity, convertedFromAppTag);
  return appId === undefined ? { connectionId } : { connectionId, appId };
}

/**
 * The description of a role assignment convert copies from a connection's service principal. Deliberately not
 * the environment marker: prune must never take such an assignment for one a removed environment left behind.
 */
export function convertedAssignmentDescription(connectionId: string, appId: string, project: ProjectRef): string {
  return `${ownershipMarker}: copied from service principal ${appId.toLowerCase()} for service connection ${connectionId.toLowerCase()} (project ${project.id.toLowerCase()}).`;
}

/** Tagged by this task, for whichever project (the audit reads every project's connections). */
export function isTaskMarkedIdentity(identity: Identity): boolean {
  return tag(identity, ownerTag) === ownerTagValue;
}

/** Carries a data.managedBy marker of this task, for whichever project. */
export function isTaskMarkedConnection(connection: ServiceConnection): boolean {
  return connection.ownerMarker?.toLowerCase().startsWith(`${ownerTagValue.toLowerCase()}/`) === true;
}

export function isOwnedIdentity(identity: Identity, project: ProjectRef): boolean {
  return identityOwnership(identity, project).kind === 'ours';
}

/** The data.managedBy value of a connection the task writes. */
export function connectionOwnerMarker(project: ProjectRef, environment: string): string {
  return `${ownerTagValue}/${project.id.toLowerCase()}/${environment}`;
}

/** The environment a connection's data.managedBy names, when it is this project's marker. */
export function markedEnvironment(connection: ServiceConnection, project: ProjectRef): string | undefined {
  const prefix = `${ownerTagValue}/${project.id.toLowerCase()}/`;
  const marker = connection.ownerMarker;
  return marker !== undefined && marker.toLowerCase().startsWith(prefix.toLowerCase()) ? marker.slice(prefix.length) : undefined;
}

/**
 * Whether a connection is ours to delete: it carries our marker, or it signs in as an owned identity through a
 * credential of ours that trusts exactly its issuer and subject (what every version of the task created).
 */
export function isOwnedConnection(
  connection: ServiceConnection,
  project: ProjectRef,
  owned: { readonly identity: Identity; readonly federatedCredentials: readonly { name: string; issuer: string; subject: string }[] } | undefined,
): boolean {
  if (markedEnvironment(connection, project) !== undefined) return true;
  if (!owned || !isOwnedIdentity(owned.identity, project)) return false;
  if ((connection.clientId ?? '').toLowerCase() !== owned.identity.clientId.toLowerCase()) return false;
  return owned.federatedCredentials.some((credential) => isOwnedCredentialName(credential.name) && credential.issuer === connection.issuer && credential.subject === connection.subject);
}

export function isOwnedCredentialName(name: string): boolean {
  return name.toLowerCase().startsWith(federatedCredentialPrefix);
}

const assignmentMarker = /^Managed by the ManagedIdentityConnections task for environment (\S+?)(?: \(project ([0-9a-f-]+)\))?\.$/i;

/** The description the task writes on a role assignment. */
export function roleAssignmentDescription(environment: string, project: ProjectRef): string {
  return `${ownershipMarker} for environment ${environment} (project ${project.id.toLowerCase()}).`;
}

/** The environment our description names (earlier versions wrote it without the project). */
export function assignmentMarkerOf(description: string | undefined): { readonly environment: string; readonly projectId?: string } | undefined {
  const match = assignmentMarker.exec(description ?? '');
  if (!match) return undefined;
  return match[2] === undefined ? { environment: match[1]! } : { environment: match[1]!, projectId: match[2].toLowerCase() };
}

/** An assignment of an owned identity's principal is ours when it has our description or our derived name. */
export function isOwnedAssignment(assignment: RoleAssignment, project: ProjectRef): boolean {
  const marker = assignmentMarkerOf(assignment.description);
  if (marker) return marker.projectId === undefined || marker.projectId === project.id.toLowerCase();
  return assignment.name.toLowerCase() === roleAssignmentName(assignment.scope, roleDefinitionGuidOf(assignment.roleDefinitionId), assignment.principalId);
}
