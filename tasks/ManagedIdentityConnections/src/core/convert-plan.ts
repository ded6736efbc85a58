// The convert command's decisions (docs/lifecycle.md, "Convert"): which connections of the project are
// converted from a service principal secret to workload identity federation on a managed identity, and the
// typed actions that do it. PURE, like plan(): every decision is a function of the request and what was read.
//
// Per connection the chain is fixed, and every step leaves a world the next run recognises without a state
// file (the identity's tags name the connection and the old app id), so a rerun after a crash at any step
// plans exactly the rest:
//
//   createIdentity ─► assignRole (each role of the old service principal) ─► switchConnection
//                  ─► writeCredential (issuer/subject read back from the switched connection) ─► verify
//
// The identity and the copied roles come first: when the connection is switched, what it signs in as can
// already do what the old service principal could. verify rolls the connection back to its secret when it
// fails and this run wrote something for the connection.
import { problem, type Problem } from '../errors';
import type { FederatedCredential, Identity, IdentityRef, RoleAssignment, RoleDefinition } from '../ports/azure';
import type { ProjectRef, ServiceConnection } from '../ports/devops';
import type { DirectoryServicePrincipal } from '../ports/directory';
import { authorizationWritesAllowed, wellKnownPrivilegedRole } from './guardrails';
import { isAzureRm, isFederated, tokenExchangeAudience, usesServicePrincipalSecret } from './model';
import { federatedCredentialName, grantKey, identityKey, roleAssignmentName, roleDefinitionGuidOf } from './names';
import { conversionOf, conversionTags, convertedAssignmentDescription, identityOwnership, ownershipTags } from './ownership';

/** Where the identities convert creates go (inputs convertIdentityResourceGroup / convertIdentityLocation). */
export interface ConvertTarget {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly location: string;
}

/** A spec environment that names a connection: its identity is used instead of a new one. */
export interface SpecConnectionIdentity {
  readonly environment: string;
  readonly ref: IdentityRef;
  readonly location: string;
}

export interface ConvertRequest {
  readonly project: ProjectRef;
  /** Connection names (ignoring case), or every secret connection of the project. */
  readonly select: { readonly all: true } | { readonly names: readonly string[] };
  readonly target?: ConvertTarget;
  /** By lowercase connection name. */
  readonly specIdentities: ReadonlyMap<string, SpecConnectionIdentity>;
  readonly allowPrivilegedRoles: boolean;
}

/** Where a connection's identity lives and how it is marked. */
export interface IdentityChoice {
  readonly ref: IdentityRef;
  readonly location: string;
  /** The spec environment whose identity it is; absent: one convert creates for this connection alone. */
  readonly environment?: string;
}

/** What observe read for one selected connection. */
export interface CandidateObservation {
  readonly identity?: Identity;
  readonly credentials: readonly FederatedCredential[];
  /** The app (client) id the connection signed in as with its secret. */
  readonly appId?: string;
  readonly servicePrincipal?: DirectoryServicePrincipal;
  /** Why the service principal could not be read (MIC442). */
  readonly servicePrincipalProblem?: Problem;
  /** The service principal's role assignments, in the connection's subscription (at, above and below it). */
  readonly sourceAssignments: readonly RoleAssignment[];
  /** The identity's role assignments there (when it exists). */
  readonly targetAssignments: readonly RoleAssignment[];
  /** By lowercase role definition GUID, for the privilege check and the plan's wording. */
  readonly roleDefinitions: ReadonlyMap<string, RoleDefinition>;
}

export interface ConvertObserved {
  /** Every AzureRM connection of the project, plus the named ones of any type. */
  readonly connections: readonly ServiceConnection[];
  /** Identities at the places convert would use, by lowercase identity key (names.ts identityKey). */
  readonly identities: ReadonlyMap<string, Identity>;
  /** By connection id. */
  readonly candidates: ReadonlyMap<string, CandidateObservation>;
}

interface ActionBase {
  readonly connection: string;
  readonly reason: string;
}

export type ConvertAction =
  | (ActionBase & { readonly kind: 'createIdentity'; readonly ref: IdentityRef; readonly location: string; readonly tags: Readonly<Record<string, string>> })
  | (ActionBase & { readonly kind: 'assignRole'; readonly scope: string; readonly roleDefinitionId: string; readonly roleName: string; readonly description: string })
  | (ActionBase & { readonly kind: 'switchConnection'; readonly connectionId: string })
  | (ActionBase & { readonly kind: 'writeCredential'; readonly ref: IdentityRef; readonly name: string })
  | (ActionBase & { readonly kind: 'verify'; readonly connectionId: string; readonly rollbackOnFailure: boolean });

export type ConvertState = 'convert' | 'resume' | 'converted' | 'refused';

export interface ConnectionConversion {
  readonly connection: ServiceConnection;
  readonly state: ConvertState;
  readonly identity?: IdentityChoice;
  readonly observedIdentity?: Identity;
  /** The old app registration: reported, never deleted. */
  readonly appId?: string;
  readonly servicePrincipalId?: string;
  readonly actions: readonly ConvertAction[];
  /** Why nothing is done for it (state refused). */
  readonly refusal?: Problem;
}

export interface ConvertPlan {
  readonly conversions: readonly ConnectionConversion[];
  /** Named connections that do not exist (MIC441). */
  readonly missing: readonly Problem[];
  readonly changesPresent: boolean;
  readonly permissionsBroadened: boolean;
}

/**
 * The identity convert creates for a connection: derived from its name and id, so every run finds the same one
 * (`id-convert-{name}-{first 8 of the id}`, within ARM's 128 characters and alphabet).
 */
export function conversionIdentityName(connection: { readonly id: string; readonly name: string }): string {
  const slug = connection.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80);
  return `id-convert-${slug || 'connection'}-${connection.id.toLowerCase().slice(0, 8)}`;
}

/** Where a connection's identity is: the spec environment's that names it, else a new one at the target. */
export function identityFor(request: ConvertRequest, connection: ServiceConnection): IdentityChoice | undefined {
  const spec = request.specIdentities.get(connection.name.toLowerCase());
  if (spec) return { ref: spec.ref, location: spec.location, environment: spec.environment };
  if (!request.target) return undefined;
  return { ref: { subscriptionId: request.target.subscriptionId, resourceGroup: request.target.resourceGroup, name: conversionIdentityName(connection) }, location: request.target.location };
}

/** A WIF connection that signs in as the identity convert chose for it: an earlier run switched it. */
function switchedOnto(connection: ServiceConnection, identity: Identity | undefined): boolean {
  return isFederated(connection) && identity !== undefined && (connection.clientId ?? '').toLowerCase() === identity.clientId.toLowerCase();
}

/** Which connections the run acts on: by name (refusing what cannot be converted), or every secret one. */
export function selectConnections(request: ConvertRequest, observed: Pick<ConvertObserved, 'connections' | 'identities'>): { readonly selected: readonly ServiceConnection[]; readonly missing: readonly Problem[] } {
  const inProject = observed.connections.filter((connection) => connection.projectReferences.length === 0 || connection.projectReferences.some((reference) => reference.id.toLowerCase() === request.project.id.toLowerCase()));
  if ('all' in request.select) {
    const selected = inProject.filter((connection) => {
      if (!isAzureRm(connection) || connection.readerStub) return false;
      if (usesServicePrincipalSecret(connection)) return true;
      const choice = identityFor(request, connection);
      const identity = choice && observed.identities.get(identityKey(choice.ref));
      return switchedOnto(connection, identity) && identity !== undefined && conversionOf(identity, request.project)?.connectionId === connection.id.toLowerCase();
    });
    return { selected, missing: [] };
  }
  const selected: ServiceConnection[] = [];
  const missing: Problem[] = [];
  for (const name of request.select.names) {
    const found = inProject.find((connection) => connection.name.toLowerCase() === name.toLowerCase());
    if (found) {
      if (!selected.includes(found)) selected.push(found);
    } else {
      missing.push(problem('MIC441', `Service connection ${JSON.stringify(name)} does not exist in project ${request.project.name || request.project.id}, or the identity running the task cannot see it.`, { field: 'convertConnections' }));
    }
  }
  return { selected, missing };
}

/** The pure plan: one conversion per selected connection, in the fixed chain order. */
export function planConversion(request: ConvertRequest, observed: ConvertObserved): ConvertPlan {
  const { selected, missing } = selectConnections(request, observed);
  const conversions = selected.map((connection) => planOne(request, connection, observed.candidates.get(connection.id), identityFor(request, connection), observed));
  const writes = conversions.flatMap((conversion) => conversion.actions.filter((action) => action.kind !== 'verify'));
  return {
    conversions,
    missing,
    changesPresent: writes.length > 0,
    permissionsBroadened: writes.some((action) => action.kind === 'assignRole' || action.kind === 'writeCredential'),
  };
}

function refused(connection: ServiceConnection, refusal: Problem, extra: Partial<ConnectionConversion> = {}): ConnectionConversion {
  return { connection, state: 'refused', actions: [], refusal, ...extra };
}

function planOne(request: ConvertRequest, connection: ServiceConnection, candidate: CandidateObservation | undefined, choice: IdentityChoice | undefined, observed: ConvertObserved): ConnectionConversion {
  const name = connection.name;
  const refuse = (message: string) => refused(connection, problem('MIC441', `Service connection ${name}: ${message}; nothing was changed for it.`, { field: 'convertConnections' }));
  if (connection.readerStub) return refuse('the identity running the task has only the Reader role on it (Administrator is needed)');
  if (!isAzureRm(connection)) return refuse(`it is a ${connection.type || 'non-Azure Resource Manager'} connection, not an Azure Resource Manager one`);
  if (connection.projectReferences.length > 1) return refuse(`it is shared with ${connection.projectReferences.length - 1} other project(s); Azure DevOps converts only single-project connections`);
  if (connection.isDisabled) return refuse('it is disabled');
  if (!choice) return refuse('no spec environment names it and convertIdentityResourceGroup is not set, so there is nowhere to create its managed identity');
  const identity = observed.identities.get(identityKey(choice.ref));
  const secret = usesServicePrincipalSecret(connection);
  const resumed = !secret && switchedOnto(connection, identity);
  if (!secret && !resumed) return refuse(`it signs in with the ${connection.authorizationScheme || 'unknown'} scheme, not a service principal secret (ServicePrincipal)`);
  if (identity && !choice.environment) {
    const conversion = conversionOf(identity, request.project);
    if (conversion?.connectionId !== connection.id.toLowerCase()) {
      const ownership = identityOwnership(identity, request.project);
      return refuse(`the managed identity ${choice.ref.name} exists but was not created by convert for this connection (${ownership.kind === 'ours' ? 'it serves another connection or environment' : 'not owned'}), so it is left alone`);
    }
  }
  if (!candidate) return refuse('it was not read');
  const appId = candidate.appId;
  const base = { identity: choice, ...(identity ? { observedIdentity: identity } : {}), ...(appId ? { appId } : {}), ...(candidate.servicePrincipal ? { servicePrincipalId: candidate.servicePrincipal.objectId } : {}) };
  if (candidate.servicePrincipalProblem && secret) return refused(connection, { ...candidate.servicePrincipalProblem, field: 'convertConnections' }, base);
  // A switched connection had its roles copied before the switch (the chain's order): without the old app id
  // (a spec identity carries no converted-from-app tag) there is nothing left to compare, so no parity step.
  if (secret && (!appId || !candidate.servicePrincipal)) {
    return refused(connection, problem('MIC442', `Service connection ${name}: the app registration ${appId ?? '(no client id)'} it signed in as has no service principal in the tenant, so its roles cannot be copied; nothing was changed for it.`, { field: 'convertConnections' }), base);
  }
  const privileged = privilegedAssignments(candidate);
  if (privileged.length > 0 && !request.allowPrivilegedRoles && secret) {
    return refused(
      connection,
      problem('MIC320', `Service connection ${name}: its service principal ${appId} holds ${privileged.map((item) => `${item.roleName} on ${item.scope}`).join(', ')}, which can change authorization; set allowPrivilegedRoles: true to copy it, or narrow the service principal first. Nothing was changed for it.`, { field: 'convertConnections' }),
      base,
    );
  }

  const actions: ConvertAction[] = [];
  const label = { connection: name };
  if (!identity) {
    const tags = choice.environment ? ownershipTags(request.project, choice.environment) : conversionTags(request.project, connection.id, appId ?? '');
    const why = choice.environment ? `the identity of spec environment ${choice.environment} does not exist yet` : `the connection needs a managed identity of its own to sign in as`;
    actions.push({ ...label, kind: 'createIdentity', ref: choice.ref, location: choice.location, tags, reason: why });
  }
  const held = new Set((identity ? candidate.targetAssignments : []).map((assignment) => grantKey(assignment.roleDefinitionId, assignment.scope)));
  for (const assignment of dedupe(candidate.sourceAssignments)) {
    if (held.has(grantKey(assignment.roleDefinitionId, assignment.scope))) continue;
    const roleName = candidate.roleDefinitions.get(roleDefinitionGuidOf(assignment.roleDefinitionId))?.roleName ?? roleDefinitionGuidOf(assignment.roleDefinitionId);
    actions.push({
      ...label,
      kind: 'assignRole',
      scope: assignment.scope,
      roleDefinitionId: assignment.roleDefinitionId,
      roleName,
      description: convertedAssignmentDescription(connection.id, appId ?? '', request.project),
      reason: `role parity: service principal ${appId} has ${roleName} on ${assignment.scope}`,
    });
  }
  if (secret) actions.push({ ...label, kind: 'switchConnection', connectionId: connection.id, reason: `it signs in with a client secret of app ${appId}; switch it to workload identity federation as ${choice.ref.name}` });
  const trusted = resumed && candidate.credentials.some((credential) => credential.issuer === connection.issuer && credential.subject === connection.subject && credential.audiences.length === 1 && credential.audiences[0] === tokenExchangeAudience);
  if (!trusted) {
    const why = secret ? 'the identity must trust the issuer and subject Azure DevOps gives the switched connection (read back, never computed)' : `the connection was switched to ${choice.ref.name} but the identity does not trust its issuer and subject yet`;
    actions.push({ ...label, kind: 'writeCredential', ref: choice.ref, name: federatedCredentialName(name), reason: why });
  }
  const writes = actions.length > 0;
  actions.push({
    ...label,
    kind: 'verify',
    connectionId: connection.id,
    rollbackOnFailure: writes,
    reason: writes ? 'TestConnection as the managed identity; on failure the connection goes back to its secret' : 'already converted: TestConnection only',
  });
  return { connection, state: secret ? 'convert' : writes ? 'resume' : 'converted', ...base, actions };
}

function dedupe(assignments: readonly RoleAssignment[]): RoleAssignment[] {
  const seen = new Set<string>();
  return assignments.filter((assignment) => {
    const key = grantKey(assignment.roleDefinitionId, assignment.scope);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function privilegedAssignments(candidate: CandidateObservation): { readonly roleName: string; readonly scope: string }[] {
  return candidate.sourceAssignments.flatMap((assignment) => {
    const guid = roleDefinitionGuidOf(assignment.roleDefinitionId);
    const definition = candidate.roleDefinitions.get(guid);
    const known = wellKnownPrivilegedRole(guid);
    const writes = definition ? authorizationWritesAllowed(definition) : [];
    return known || writes.length > 0 ? [{ roleName: definition?.roleName ?? known?.name ?? guid, scope: assignment.scope }] : [];
  });
}

/** The name of the role assignment convert writes for the identity's principal (the same rule as provision). */
export function convertedAssignmentName(scope: string, roleDefinitionId: string, principalId: string): string {
  return roleAssignmentName(scope, roleDefinitionGuidOf(roleDefinitionId), principalId);
}
