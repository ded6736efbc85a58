// The core's data: what the spec asks for (desired), what exists (observed), what to do (plan), what happened
// (outcomes). Plain, immutable data only — no functions, no SDK types — so that plan() can stay a pure function
// of two values and tests can build any situation from literals.
import type { Problem } from '../errors';
import type { FederatedCredential, Identity, IdentityRef, RoleAssignment, RoleDefinition, Subscription } from '../ports/azure';
import type { CheckSpec, ConnectionCheck, PipelinePermissions, ProjectRef, ServiceConnection } from '../ports/devops';

// ——— Desired state (the validated spec, defaults applied) ———

/** Where a desired item came from, so that problems found later (after observation) still point into the spec. */
export interface SpecOrigin {
  readonly field: string;
  readonly line?: number;
  readonly column?: number;
}

export type Authorize =
  | { readonly kind: 'current' }
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'pipelines'; readonly pipelineIds: readonly number[] };

export interface DesiredIdentity {
  readonly ref: IdentityRef;
  readonly location: string;
  /** defaults.tags merged with identity.tags (identity wins). */
  readonly tags: Readonly<Record<string, string>>;
  readonly origin: SpecOrigin;
  /** The name comes from the naming rule (namePrefix + environment), not from identity.name (docs/lifecycle.md). */
  readonly derivedName?: boolean;
}

export interface DesiredConnection {
  readonly name: string;
  readonly subscriptionId: string;
  readonly resourceGroup?: string;
  readonly description: string;
  readonly shareWith: readonly string[];
  readonly authorize: Authorize;
  /** Approvals and checks the connection must carry (spec `checks`); absent: none managed. */
  readonly checks?: readonly CheckSpec[];
  readonly origin: SpecOrigin;
}

export interface DesiredRole {
  /** As written: a role name or a role definition GUID. */
  readonly role: string;
  readonly scope: string;
  readonly origin: SpecOrigin;
}

export interface DesiredEnvironment {
  readonly name: string;
  readonly identity: DesiredIdentity;
  readonly connections: readonly DesiredConnection[];
  readonly roles: readonly DesiredRole[];
  readonly origin: SpecOrigin;
}

/** Facts about where the task runs that the plan needs; they come from the config, not the spec. */
export interface PlanSettings {
  /** The project the task runs in: it owns the connections it creates. */
  readonly project: ProjectRef;
  /** ARM endpoint URL stored in each connection (the bootstrap connection's). */
  readonly connectionUrl: string;
  /** Azure environment name stored in each connection (e.g. AzureCloud). */
  readonly azureEnvironment: string;
  /** The running pipeline's definition id, for `authorize: current`; absent outside a pipeline run. */
  readonly currentPipelineId?: number;
  /**
   * Set when provision will queue a verification run of this pipeline afterwards: the run can only start if
   * the pipeline may use every connection it names, so the plan authorizes it on every connection, whatever
   * `authorize` says.
   */
  readonly verificationRunPipelineId?: number;
  readonly allowPrivilegedRoles: boolean;
  /** What becomes of owned objects outside the spec (docs/lifecycle.md); absent: they are only reported. */
  readonly lifecycle?: LifecycleSettings;
}

/**
 * The lifecycle half of the plan (src/core/prune.ts): owned objects that exist but are not in the spec are
 * reported, pruned (`prune`), or — for `teardown` — every owned object of the selected environments goes.
 */
export interface LifecycleSettings {
  /** provision (and plan, to show it) deletes owned objects outside the spec instead of warning about them. */
  readonly prune: boolean;
  /** The teardown command: every owned object of the selected environments is deleted, nothing is created. */
  readonly teardown: boolean;
  /** A plan with more destructive actions than this is refused as a whole. */
  readonly maxDeletions: number;
  /** A connection used (execution history) within this many days is kept unless deleteUsedConnections. */
  readonly keepUsedWithinDays: number;
  readonly deleteUsedConnections: boolean;
  /** The time the run started (ISO 8601): plan() has no clock, and "used within N days" needs one. */
  readonly now: string;
  /** Every environment the spec declares, `only` or not: an owned identity of another one was removed from it. */
  readonly specEnvironments: readonly string[];
  /** `only` was given: environments removed from the spec are then left alone (the run does not see the whole spec). */
  readonly onlySelected: boolean;
}

export interface DesiredState {
  readonly environments: readonly DesiredEnvironment[];
  readonly settings: PlanSettings;
  /**
   * The identities of every environment of the spec, also those `only` leaves out: the escalation guard
   * protects them all. Absent: those of `environments`.
   */
  readonly specIdentities?: readonly SpecIdentity[];
}

export interface SpecIdentity {
  readonly environment: string;
  readonly ref: IdentityRef;
}

// ——— Observed state (read through the ports; absent from a map = does not exist) ———

export interface ObservedIdentity {
  readonly identity: Identity;
  readonly federatedCredentials: readonly FederatedCredential[];
  /** The principal's assignments in the subscriptions the environment's roles name. */
  readonly roleAssignments: readonly RoleAssignment[];
}

export interface ObservedWorld {
  /** By identityKey(ref). */
  readonly identities: ReadonlyMap<string, ObservedIdentity>;
  /** By lowercased connection name. */
  readonly connections: ReadonlyMap<string, ServiceConnection>;
  /** By permissionsKey(connection id, project id): pipeline permissions are kept per project. */
  readonly pipelinePermissions: ReadonlyMap<string, PipelinePermissions>;
  /**
   * By lowercased project id: the pipeline ids that `authorize` lists name and that exist in that project (looked
   * for in the project the task runs in, then in the connection's shareWith projects). An id in no entry exists
   * in none of them.
   */
  readonly pipelines: ReadonlyMap<string, ReadonlySet<number>>;
  /**
   * By otherProjectConnectionKey(project id, name): connections of the spec's names found in a shareWith project
   * where this project's connection of that name is not shared yet (or there is none): what sharing would
   * collide with.
   */
  readonly otherProjectConnections: ReadonlyMap<string, ServiceConnection>;
  /** By roleKey(subscriptionId, role). */
  readonly roleDefinitions: ReadonlyMap<string, RoleDefinition>;
  /** By lowercased subscription id. */
  readonly subscriptions: ReadonlyMap<string, Subscription>;
  /** By lowercased project name. */
  readonly projects: ReadonlyMap<string, ProjectRef>;
  /**
   * Where the identity the task runs as lives, looked up only when a role of the spec could take over an
   * identity (the escalation guard protects it). Absent: not looked up (no such role, or the CLI).
   */
  readonly bootstrapIdentity?: BootstrapIdentityLookup;
  /** By lowercased connection id: the checks of existing connections whose spec names checks. */
  readonly checks?: ReadonlyMap<string, readonly ConnectionCheck[]>;
  /**
   * Lifecycle observation (absent in worlds built before it existed: nothing outside the spec is known).
   * Identities carrying this project's ownership marker in the spec's resource groups that no selected
   * environment names, with their credentials and role assignments.
   */
  readonly ownedIdentities?: readonly ObservedIdentity[];
  /** Every Azure Resource Manager connection of the project. */
  readonly projectConnections?: readonly ServiceConnection[];
  /**
   * Role assignments in the spec's role subscriptions whose description carries this project's marker, whoever
   * holds them: those of a principal that no owned identity has any more were left by a deleted identity.
   */
  readonly markedAssignments?: readonly RoleAssignment[];
  /** By lowercased connection id: when a deletion candidate was last used (ISO 8601), null when never. */
  readonly lastUsed?: ReadonlyMap<string, string | null>;
}

/** The key of a connection's pipeline permissions in a project; the project the task runs in needs no id. */
export function permissionsKey(connectionId: string, projectId?: string): string {
  return projectId === undefined ? connectionId.toLowerCase() : `${connectionId.toLowerCase()}@${projectId.toLowerCase()}`;
}

export function otherProjectConnectionKey(projectId: string, connectionName: string): string {
  return `${projectId.toLowerCase()}|${connectionName.toLowerCase()}`;
}

export type BootstrapIdentityLookup =
  /** Given as an input, or found by the bootstrap connection's client id. */
  | { readonly status: 'found'; readonly resourceId: string; readonly name: string; readonly source: string }
  /** No user-assigned identity with that client id in any subscription a risky role names: no such role can reach it. */
  | { readonly status: 'absent'; readonly reason: string }
  /** The lookup could not tell (a subscription could not be listed). */
  | { readonly status: 'unknown'; readonly reason: string };

export function roleKey(subscriptionId: string, role: string): string {
  return `${subscriptionId.toLowerCase()}|${role.toLowerCase()}`;
}

// ——— Plan ———

/** Stable within a plan: `{environment}/{what}`, e.g. `dev/connection:app-dev`. */
export type ActionId = string;

/** A value produced by an earlier action of the same environment; apply reads it from that action's result. */
export type ActionOutput =
  | 'identity.clientId'
  | 'identity.principalId'
  | 'identity.tenantId'
  | 'connection.id'
  | 'connection.issuer'
  | 'connection.subject'
  | 'connection';

/** Either known when planning, or read back from an earlier action when applying. */
export type Resolvable<T> = { readonly known: T } | { readonly from: ActionId; readonly output: ActionOutput };

export function known<T>(value: T): Resolvable<T> {
  return { known: value };
}

export function fromAction<T>(from: ActionId, output: ActionOutput): Resolvable<T> {
  return { from, output };
}

export function isKnown<T>(value: Resolvable<T>): value is { readonly known: T } {
  return 'known' in value;
}

interface ActionBase {
  readonly id: ActionId;
  readonly environment: string;
  /** Why, in words, for the plan output. */
  readonly reason: string;
  /** Actions of the same environment that must succeed first. */
  readonly dependsOn: readonly ActionId[];
}

export interface CreateIdentityAction extends ActionBase {
  readonly kind: 'createIdentity';
  readonly identity: IdentityRef;
  readonly location: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface UpdateIdentityTagsAction extends ActionBase {
  readonly kind: 'updateIdentityTags';
  readonly identity: IdentityRef;
  readonly location: string;
  /** The complete tag set to write: existing tags plus the added or changed ones. */
  readonly tags: Readonly<Record<string, string>>;
  readonly changedTags: Readonly<Record<string, string>>;
}

export interface ConnectionDefinitionPlan {
  readonly name: string;
  readonly description: string;
  readonly url: string;
  readonly azureEnvironment: string;
  readonly tenantId: Resolvable<string>;
  readonly clientId: Resolvable<string>;
  readonly subscriptionId: string;
  readonly subscriptionName: string;
  readonly resourceGroupScope?: string;
  readonly project: ProjectRef;
  /** data.managedBy (core/ownership.ts). */
  readonly ownerMarker?: string;
}

export interface CreateConnectionAction extends ActionBase {
  readonly kind: 'createConnection';
  readonly connectionName: string;
  readonly definition: ConnectionDefinitionPlan;
}

export type ConnectionField = 'description' | 'scope' | 'subscription' | 'tenant' | 'serviceprincipalid';

export interface ConnectionChange {
  readonly field: ConnectionField;
  readonly from: string | undefined;
  readonly to: Resolvable<string | undefined>;
}

export interface UpdateConnectionAction extends ActionBase {
  readonly kind: 'updateConnection';
  readonly connectionName: string;
  readonly connectionId: string;
  readonly definition: ConnectionDefinitionPlan;
  readonly changes: readonly ConnectionChange[];
}

export const tokenExchangeAudience = 'api://AzureADTokenExchange';

/**
 * Azure DevOps' first-party application id: the audience of Entra tokens for Azure DevOps, and the `a/` segment
 * of every Entra-format subject of a service connection.
 */
export const azureDevOpsApplicationId = '499b84ac-1321-427f-aa17-267ca6975798';

/** An Azure Resource Manager connection (type `azurerm`). */
export function isAzureRm(connection: Pick<ServiceConnection, 'type'>): boolean {
  return connection.type.toLowerCase() === 'azurerm';
}

/** A connection that signs in through workload identity federation (scheme WorkloadIdentityFederation). */
export function isFederated(connection: Pick<ServiceConnection, 'authorizationScheme'>): boolean {
  return connection.authorizationScheme.toLowerCase() === 'workloadidentityfederation';
}

/** A connection that signs in with a service principal's secret or certificate (scheme ServicePrincipal). */
export function usesServicePrincipalSecret(connection: Pick<ServiceConnection, 'authorizationScheme'>): boolean {
  return connection.authorizationScheme.toLowerCase() === 'serviceprincipal';
}

export interface FederatedCredentialWrite {
  readonly identity: IdentityRef;
  readonly connectionName: string;
  readonly credentialName: string;
  readonly issuer: Resolvable<string>;
  readonly subject: Resolvable<string>;
  readonly audience: typeof tokenExchangeAudience;
}

export interface CreateFederatedCredentialAction extends ActionBase, FederatedCredentialWrite {
  readonly kind: 'createFederatedCredential';
}

export interface UpdateFederatedCredentialAction extends ActionBase, FederatedCredentialWrite {
  readonly kind: 'updateFederatedCredential';
  readonly previous: FederatedCredential;
}

export interface AssignRoleAction extends ActionBase {
  readonly kind: 'assignRole';
  readonly identityName: string;
  readonly scope: string;
  readonly roleName: string;
  readonly roleDefinitionGuid: string;
  readonly roleDefinitionId: string;
  /** The assignment name derives from it (roleAssignmentName), so it is known as soon as the principal is. */
  readonly principalId: Resolvable<string>;
  readonly description: string;
}

export interface AuthorizePipelinesAction extends ActionBase {
  readonly kind: 'authorizePipelines';
  readonly connectionName: string;
  readonly connectionId: Resolvable<string>;
  readonly allPipelines: boolean;
  readonly pipelineIds: readonly number[];
  /** In pipelineIds only because the verification run needs it (authorize would not have named it). */
  readonly forVerificationRun?: number;
  /**
   * Set when the pipelines belong to a project the connection is shared with: Azure DevOps keeps pipeline
   * permissions per project. Absent: the project the task runs in.
   */
  readonly project?: ProjectRef;
}

export interface ShareConnectionAction extends ActionBase {
  readonly kind: 'shareConnection';
  readonly connectionName: string;
  readonly connectionId: Resolvable<string>;
  readonly projects: readonly ProjectRef[];
}

/** Adds a check to the connection, or rewrites the one of its kind in place. Restricts; grants nothing. */
export interface ConfigureCheckAction extends ActionBase {
  readonly kind: 'configureCheck';
  readonly connectionName: string;
  readonly connectionId: Resolvable<string>;
  readonly check: CheckSpec;
  /** The check rewritten in place; absent: a new one is added. */
  readonly existing?: ConnectionCheck;
}

/**
 * Moves a connection from the Azure DevOps (vstoken) issuer to the Entra issuer (migrate-issuer.ts). Produces
 * the connection as Azure DevOps answers: the new issuer and subject are read back, never assumed.
 */
export interface SwitchConnectionIssuerAction extends ActionBase {
  readonly kind: 'switchConnectionIssuer';
  readonly connectionName: string;
  readonly connectionId: string;
  /** The issuer the connection has now (for the plan's text). */
  readonly fromIssuer: string;
}

/** A read: runs the connection's TestConnection. Provision and verify run it; plan does not. */
export interface TestConnectionAction extends ActionBase {
  readonly kind: 'testConnection';
  readonly connectionName: string;
  readonly connection: Resolvable<ServiceConnection>;
  /**
   * Whether an AuthorizationFailed answer may still be a role assignment propagating. false when no role of
   * the spec lies in the connection's subscription (MIC507): the answer will not change by waiting.
   */
  readonly waitForRoles: boolean;
  /** The plan writes the connection's federated credential before this test (Entra may still be propagating it). */
  readonly credentialWrittenThisRun?: boolean;
}

// ——— Destructive actions (src/core/prune.ts plans them; docs/lifecycle.md) ———

export interface RevokePipelinesAction extends ActionBase {
  readonly kind: 'revokePipelines';
  readonly connectionName: string;
  readonly connectionId: string;
  /** Turn off "every pipeline may use it". */
  readonly allPipelines: boolean;
  readonly pipelineIds: readonly number[];
}

export interface UnshareConnectionAction extends ActionBase {
  readonly kind: 'unshareConnection';
  readonly connectionName: string;
  readonly connectionId: string;
  readonly projects: readonly ProjectRef[];
}

export interface DeleteConnectionAction extends ActionBase {
  readonly kind: 'deleteConnection';
  readonly connectionName: string;
  readonly connectionId: string;
  /** The project it is deleted from: the one the task runs in (shares are removed first, by their own action). */
  readonly project: ProjectRef;
  /** When it was last used (ISO 8601), when known. */
  readonly lastUsed?: string;
}

export interface DeleteFederatedCredentialAction extends ActionBase {
  readonly kind: 'deleteFederatedCredential';
  readonly identity: IdentityRef;
  readonly credentialName: string;
  readonly issuer: string;
  readonly subject: string;
}

export interface DeleteRoleAssignmentAction extends ActionBase {
  readonly kind: 'deleteRoleAssignment';
  readonly assignmentId: string;
  readonly scope: string;
  /** The role's name when the plan knows it, else its definition GUID. */
  readonly roleName: string;
  readonly principalId: string;
  readonly identityName: string;
}

export interface DeleteIdentityAction extends ActionBase {
  readonly kind: 'deleteIdentity';
  readonly identity: IdentityRef;
  readonly clientId: string;
}

export type DestructiveAction =
  | RevokePipelinesAction
  | UnshareConnectionAction
  | DeleteConnectionAction
  | DeleteFederatedCredentialAction
  | DeleteRoleAssignmentAction
  | DeleteIdentityAction;

export type Action =
  | CreateIdentityAction
  | UpdateIdentityTagsAction
  | CreateConnectionAction
  | UpdateConnectionAction
  | CreateFederatedCredentialAction
  | UpdateFederatedCredentialAction
  | AssignRoleAction
  | AuthorizePipelinesAction
  | ShareConnectionAction
  | ConfigureCheckAction
  | SwitchConnectionIssuerAction
  | TestConnectionAction
  | DestructiveAction;

export type ActionKind = Action['kind'];

const grantKinds: ReadonlySet<ActionKind> = new Set<ActionKind>([
  'assignRole',
  // A federated credential lets a new subject sign in as the identity: it grants.
  'createFederatedCredential',
  'updateFederatedCredential',
  'authorizePipelines',
  'shareConnection',
]);

const destructiveKinds: ReadonlySet<ActionKind> = new Set<ActionKind>([
  'revokePipelines',
  'unshareConnection',
  'deleteConnection',
  'deleteFederatedCredential',
  'deleteRoleAssignment',
  'deleteIdentity',
]);

/** Whether the action deletes something or takes access away (permissionsNarrowed). */
export function isDestructive(action: Action): action is DestructiveAction {
  return destructiveKinds.has(action.kind);
}

/** Whether the action writes anything (everything but testConnection). */
export function isWrite(action: Action): boolean {
  return action.kind !== 'testConnection';
}

/** Whether the action gives someone access they did not have. */
export function isGrant(action: Action): boolean {
  return grantKinds.has(action.kind);
}

export type Severity = 'error' | 'warning';

/** Something the plan found that is not an action: errors block every write, warnings are reported. */
export interface Finding extends Problem {
  readonly severity: Severity;
  /** The connection the finding is about, when it is about one. */
  readonly connection?: string;
}

export interface ConnectionSnapshot {
  readonly name: string;
  /** The subscription (and resource group) the spec wants, defaults applied: what the verify jobs expect. */
  readonly subscriptionId: string;
  readonly resourceGroup?: string;
  /** As observed before any action. */
  readonly observed?: ServiceConnection;
}

export interface EnvironmentPlan {
  readonly environment: string;
  readonly identity: { readonly ref: IdentityRef; readonly location: string; readonly observed?: Identity };
  readonly connections: readonly ConnectionSnapshot[];
  /** In dependency order (every action after the ones it depends on). */
  readonly actions: readonly Action[];
  readonly findings: readonly Finding[];
  /** An environment the spec no longer declares, found through its owned identity (prune.ts): no outputs. */
  readonly outsideSpec?: boolean;
}

export interface Plan {
  readonly environments: readonly EnvironmentPlan[];
  /** Any write action anywhere. */
  readonly changesPresent: boolean;
  /** Any action that grants access (role, federated credential, pipeline permission, share). */
  readonly permissionsBroadened: boolean;
  /** Any destructive action: a deletion, a revoked pipeline permission, a removed share. */
  readonly permissionsNarrowed: boolean;
}

export function allFindings(plan: Plan): Finding[] {
  return plan.environments.flatMap((environment) => environment.findings);
}

export function blockingFindings(plan: Plan): Finding[] {
  return allFindings(plan).filter((finding) => finding.severity === 'error');
}

// ——— Outcomes of apply ———

export type ActionStatus = 'succeeded' | 'failed' | 'skipped';

export interface ActionOutcome {
  readonly action: Action;
  readonly status: ActionStatus;
  /** For testConnection: the message Azure DevOps returned. */
  readonly detail?: string;
  readonly error?: Problem;
}

export interface EnvironmentOutcome {
  readonly environment: string;
  readonly status: 'succeeded' | 'failed';
  readonly actions: readonly ActionOutcome[];
  /** The identity after apply (created, updated or as observed), when known. */
  readonly identity?: Identity;
  /** By connection name as in the spec: the connection after apply, when known. */
  readonly connections: ReadonlyMap<string, ServiceConnection>;
  /** The first failure, which stopped the environment. */
  readonly error?: Problem;
}

export interface ApplyResult {
  readonly environments: readonly EnvironmentOutcome[];
}

export type { CheckSpec, ConnectionCheck } from '../ports/devops';
export type { FederatedCredential, Identity, IdentityRef, PipelinePermissions, ProjectRef, RoleAssignment, RoleDefinition, ServiceConnection, Subscription };
