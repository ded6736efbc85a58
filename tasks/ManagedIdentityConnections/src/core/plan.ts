// plan(desired, observed): what to write so that the world matches the spec, and what is wrong that writing
// cannot fix. PURE — no ports, no clock, no randomness — so that every decision the task makes can be tested
// from two literals, and so that `plan`, `provision` and `verify` agree by construction on what "drift" is.
//
// Rules that shape everything below:
// - This file only adds and changes. What exists but is not in the spec — and the teardown command — is
//   planned by prune.ts: destructive actions, only on objects carrying our ownership marker (ownership.ts).
// - A connection's issuer and subject are never computed: they are read from the connection, or, for a
//   connection that does not exist yet, read back after creating it (a Resolvable pointing at that action).
// - Every action names the actions it needs (dependsOn), so apply can run each environment as a DAG.
// - Problems that block writing are findings of severity error; the run writes nothing when any exists.
import { problem, type ErrorCode } from '../errors';
import { authorizationWritesAllowed, exposedByScope, federatedCredentialLimit, identityTakeoverAllowed, type ProtectedIdentityScope } from './guardrails';
import {
  fromAction,
  isAzureRm,
  isDestructive,
  isFederated,
  isGrant,
  isWrite,
  known,
  otherProjectConnectionKey,
  permissionsKey,
  roleKey,
  tokenExchangeAudience,
  type Action,
  type ActionId,
  type AssignRoleAction,
  type CheckSpec,
  type ConnectionCheck,
  type ConnectionChange,
  type ConnectionDefinitionPlan,
  type ConnectionSnapshot,
  type DesiredConnection,
  type DesiredEnvironment,
  type DesiredRole,
  type DesiredState,
  type EnvironmentPlan,
  type FederatedCredential,
  type Finding,
  type ObservedIdentity,
  type ObservedWorld,
  type PlanSettings,
  type Plan,
  type ProjectRef,
  type Resolvable,
  type RoleDefinition,
  type ServiceConnection,
  type Severity,
  type SpecOrigin,
} from './model';
import { isLegacyIssuer } from './legacy-issuer';
import { checkLabel, federatedCredentialName, identityKey, normalizeLocation, roleDefinitionGuidOf, roleDefinitionIdFor, sameName } from './names';
import { connectionOwnerMarker, identityOwnership, isOwnedCredentialName, ownershipTags, roleAssignmentDescription } from './ownership';
import { planLifecycle, planTeardown } from './prune';
import { identityScope, isWithinScope, normalizeScope, parseScope, resourceGroupScope, subscriptionScope } from './scopes';

/** A share the plan makes: authorizations in those projects wait for it. */
interface PlannedShare {
  readonly id: ActionId;
  readonly projects: readonly ProjectRef[];
}

export function plan(desired: DesiredState, observed: ObservedWorld): Plan {
  const guard = escalationGuard(desired, observed);
  const environments = desired.settings.lifecycle?.teardown
    ? planTeardown(desired, observed)
    : planLifecycle(desired, observed, desired.environments.map((environment) => planEnvironment(environment, observed, desired.settings, guard)));
  const actions = environments.flatMap((environment) => environment.actions);
  return { environments, changesPresent: actions.some(isWrite), permissionsBroadened: actions.some(isGrant), permissionsNarrowed: actions.some(isDestructive) };
}

/**
 * What verify runs: a test of every connection that exists now (as observed, whatever drift the full plan
 * found), without dependencies, and nothing else — except a connection whose federated credential the plan
 * would write: nothing is propagating for it (verify writes nothing), so its test could only wait out the
 * propagation timeout and fail; the drift already says why. Likewise a role the plan would assign is not on
 * its way, so an AuthorizationFailed answer is final.
 */
export function verificationPlan(full: Plan): Plan {
  return {
    environments: full.environments.map((environment) => {
      const credentialDrift = new Set(environment.actions.flatMap((action) => (action.kind === 'createFederatedCredential' || action.kind === 'updateFederatedCredential' ? [action.connectionName] : [])));
      const roleDrift = environment.actions.some((action) => action.kind === 'assignRole');
      return {
        ...environment,
        actions: environment.actions.flatMap((action) => {
          if (action.kind !== 'testConnection' || credentialDrift.has(action.connectionName)) return [];
          const observed = environment.connections.find((snapshot) => snapshot.name === action.connectionName)?.observed;
          return observed ? [{ ...action, dependsOn: [], connection: known(observed), waitForRoles: action.waitForRoles && !roleDrift }] : [];
        }),
      };
    }),
    changesPresent: false,
    permissionsBroadened: false,
    permissionsNarrowed: false,
  };
}

/** What the escalation guard protects, computed once for the whole spec. */
interface EscalationGuard {
  readonly protectedScopes: readonly ProtectedIdentityScope[];
  /** By normalized resource group scope: the environments whose identities live there. */
  readonly environmentsByGroup: ReadonlyMap<string, readonly string[]>;
  readonly bootstrap: ObservedWorld['bootstrapIdentity'];
}

function escalationGuard(desired: DesiredState, observed: ObservedWorld): EscalationGuard {
  const identities = desired.specIdentities ?? desired.environments.map((environment) => ({ environment: environment.name, ref: environment.identity.ref }));
  const protectedScopes: ProtectedIdentityScope[] = [];
  const bootstrap = observed.bootstrapIdentity;
  if (bootstrap?.status === 'found') protectedScopes.push({ scope: bootstrap.resourceId, label: `the bootstrap identity ${bootstrap.name}`, resourceGroup: false });
  const environmentsByGroup = new Map<string, string[]>();
  for (const { environment, ref } of identities) {
    protectedScopes.push({ scope: identityScope(ref), label: `identity ${ref.name} (environment ${environment})`, resourceGroup: false });
    const group = normalizeScope(resourceGroupScope(ref.subscriptionId, ref.resourceGroup));
    const names = environmentsByGroup.get(group);
    if (names) names.push(environment);
    else {
      environmentsByGroup.set(group, [environment]);
      protectedScopes.push({ scope: group, label: `identity resource group ${ref.resourceGroup}`, resourceGroup: true });
    }
  }
  return { protectedScopes, environmentsByGroup, bootstrap };
}

function planEnvironment(environment: DesiredEnvironment, observed: ObservedWorld, settings: PlanSettings, guard: EscalationGuard): EnvironmentPlan {
  const planner = new EnvironmentPlanner(environment, observed, settings, guard);
  planner.planIdentity();
  planner.planRoles();
  for (const connection of environment.connections) planner.planConnection(connection);
  planner.checkCredentialBudget();
  return planner.result();
}

class EnvironmentPlanner {
  private readonly identityActions: Action[] = [];
  private readonly connectionActions: Action[] = [];
  private readonly credentialActions: Action[] = [];
  private readonly roleActions: AssignRoleAction[] = [];
  private readonly checkActions: Action[] = [];
  private readonly permissionActions: Action[] = [];
  private readonly testActions: Action[] = [];
  private readonly findings: Finding[] = [];
  private readonly current: ObservedIdentity | undefined;
  /** Set when the identity is created: everything that needs its ids reads them from this action. */
  private createIdentityId: ActionId | undefined;
  private readonly snapshots: ConnectionSnapshot[] = [];

  constructor(
    private readonly environment: DesiredEnvironment,
    private readonly observed: ObservedWorld,
    private readonly settings: PlanSettings,
    private readonly guard: EscalationGuard,
  ) {
    this.current = observed.identities.get(identityKey(environment.identity.ref));
  }

  private get name(): string {
    return this.environment.name;
  }

  private id(what: string): ActionId {
    return `${this.name}/${what}`;
  }

  private find(severity: Severity, code: ErrorCode, message: string, origin: SpecOrigin, field?: string, connection?: string): void {
    const location = { environment: this.name, field: field === undefined ? origin.field : `${origin.field}.${field}`, line: origin.line, column: origin.column };
    this.findings.push({ ...problem(code, message, location), severity, ...(connection === undefined ? {} : { connection }) });
  }

  private identityDependency(): ActionId[] {
    return this.createIdentityId === undefined ? [] : [this.createIdentityId];
  }

  private identityOutput(output: 'identity.clientId' | 'identity.principalId' | 'identity.tenantId', value: string | undefined): Resolvable<string> {
    return this.createIdentityId === undefined ? known(value ?? '') : fromAction(this.createIdentityId, output);
  }

  // ——— Identity ———

  planIdentity(): void {
    const desired = this.environment.identity;
    const { ref } = desired;
    if (!this.observed.subscriptions.has(ref.subscriptionId.toLowerCase())) {
      this.find('error', 'MIC307', `Subscription ${ref.subscriptionId} of identity ${ref.name} was not found, or the bootstrap identity cannot read it.`, desired.origin);
    }
    if (!this.current) {
      this.createIdentityId = this.id('identity');
      this.identityActions.push({
        kind: 'createIdentity',
        id: this.createIdentityId,
        environment: this.name,
        reason: `Identity ${ref.name} does not exist in resource group ${ref.resourceGroup}.`,
        dependsOn: [],
        identity: ref,
        location: desired.location,
        // The ownership marker: what lets a later run recognise the identity as its own (ownership.ts).
        tags: { ...desired.tags, ...ownershipTags(this.settings.project, this.name) },
      });
      return;
    }
    const { identity } = this.current;
    if (normalizeLocation(identity.location) !== normalizeLocation(desired.location)) {
      this.find(
        'error',
        'MIC204',
        `Identity ${ref.name} exists in ${identity.location}, but the spec says ${desired.location}; an identity cannot move.`,
        desired.origin,
      );
    }
    // Ours already (the marker follows a renamed environment), or made by an earlier version of the task —
    // named by our naming rule and holding a credential named by our rule — and adopted. Anything else (an
    // identity the spec names explicitly, made by hand) is used but never marked: not owned, never deleted.
    const ownership = identityOwnership(identity, this.settings.project);
    const adopt = ownership.kind === 'unmarked' && desired.derivedName === true && this.current.federatedCredentials.some((credential) => isOwnedCredentialName(credential.name));
    const marker = ownership.kind === 'ours' || adopt ? ownershipTags(this.settings.project, this.name) : {};
    const { merged, changed } = mergeTags(identity.tags, { ...desired.tags, ...marker });
    if (Object.keys(changed).length > 0) {
      this.identityActions.push({
        kind: 'updateIdentityTags',
        id: this.id('identity-tags'),
        environment: this.name,
        reason: `${adopt ? `Identity ${ref.name} was created by an earlier version of this task (it holds our credentials) and is adopted: it gets the ownership marker. ` : ''}Tags to add or change on identity ${ref.name}: ${Object.entries(changed).map(([key, value]) => `${key}=${value}`).join(', ')} (existing tags are kept).`,
        dependsOn: [],
        identity: ref,
        location: identity.location,
        tags: merged,
        changedTags: changed,
      });
    }
  }

  // ——— Roles ———

  planRoles(): void {
    // The spec refuses the same role string twice on a scope, but a name and a GUID can name one definition.
    const planned = new Set<string>();
    for (const role of this.environment.roles) {
      const scope = parseScope(role.scope);
      if (!scope) continue; // the spec validator refused it already
      const definition = this.observed.roleDefinitions.get(roleKey(scope.subscriptionId, role.role));
      if (!definition) {
        this.find('error', 'MIC303', `Role ${JSON.stringify(role.role)} was not found in subscription ${scope.subscriptionId}.`, role.origin, 'role');
        continue;
      }
      if (!this.settings.allowPrivilegedRoles) {
        const writes = authorizationWritesAllowed(definition);
        if (writes.length > 0) {
          this.find(
            'error',
            'MIC302',
            `Role ${definition.roleName} (${definition.guid}) allows ${writes.slice(0, 3).join(', ')}${writes.length > 3 ? ', …' : ''}: it can change authorization, so it is refused unless allowPrivilegedRoles is true.`,
            role.origin,
            'role',
          );
          continue;
        }
      }
      if (this.refusedAsEscalation(role, definition)) continue;
      const guid = definition.guid.toLowerCase();
      const grant = `${guid}|${normalizeScope(role.scope)}`;
      if (planned.has(grant)) continue;
      planned.add(grant);
      const principalId = this.current?.identity.principalId;
      const existing = this.current?.roleAssignments.find(
        (assignment) =>
          roleDefinitionGuidOf(assignment.roleDefinitionId) === guid &&
          normalizeScope(assignment.scope) === normalizeScope(role.scope) &&
          assignment.principalId.toLowerCase() === principalId?.toLowerCase(),
      );
      if (existing) continue; // under any name: a matching assignment is a matching assignment
      const identityName = this.environment.identity.ref.name;
      this.roleActions.push({
        kind: 'assignRole',
        id: this.id(`role:${guid}@${normalizeScope(role.scope)}`),
        environment: this.name,
        reason: this.current
          ? `Identity ${identityName} has no ${definition.roleName} assignment on ${role.scope}.`
          : `The new identity ${identityName} needs ${definition.roleName} on ${role.scope}.`,
        dependsOn: this.identityDependency(),
        identityName,
        scope: role.scope,
        roleName: definition.roleName,
        roleDefinitionGuid: guid,
        roleDefinitionId: roleDefinitionIdFor(scope.subscriptionId, guid),
        principalId: this.identityOutput('identity.principalId', principalId),
        description: roleAssignmentDescription(this.name, this.settings.project),
      });
    }
  }

  /**
   * The escalation guard: a role that can write a federated credential onto (or otherwise become) a
   * user-assigned identity, on a scope holding the bootstrap identity, an identity of the spec or an identity
   * resource group, lets this environment's connections sign in as those identities — the bootstrap's rights
   * included. Refused unless allowPrivilegedRoles; reported either way.
   */
  private refusedAsEscalation(role: DesiredRole, definition: RoleDefinition): boolean {
    const operations = identityTakeoverAllowed(definition);
    if (operations.length === 0) return false;
    const exposed = exposedByScope(role.scope, this.guard.protectedScopes);
    const what = `Role ${definition.roleName} (${definition.guid}) on ${role.scope} allows ${operations.join(', ')}`;
    const bootstrap = this.guard.bootstrap;
    const uncheckedBootstrap = (): void => {
      if (bootstrap?.status !== 'unknown') return;
      this.find('warning', 'MIC311', `${what}; whether that scope holds the bootstrap identity could not be checked (${bootstrap.reason}). Spec identities and identity resource groups were checked; set bootstrapIdentityResourceId to check the bootstrap identity too.`, role.origin, 'scope');
    };
    if (exposed.length === 0) {
      uncheckedBootstrap();
      return false;
    }
    const labels = exposed.map((item) => item.label);
    const shown = `${labels.slice(0, 4).join(', ')}${labels.length > 4 ? `, and ${labels.length - 4} more` : ''}`;
    const consequence = `the connections of environment ${this.name} could add a federated credential to those identities and sign in as them`;
    const shared = exposed
      .filter((item) => item.resourceGroup)
      .map((item) => ({ group: item.label, environments: [...new Set(this.guard.environmentsByGroup.get(normalizeScope(item.scope)) ?? [])] }))
      .filter((group) => group.environments.length > 1);
    if (!this.settings.allowPrivilegedRoles) {
      this.find('error', 'MIC310', `${what}, and that scope holds ${shown}: ${consequence}. Grant it on a scope without identities (docs/permissions.md, safe layout), or set allowPrivilegedRoles.`, role.origin, 'scope');
      return true;
    }
    uncheckedBootstrap();
    this.find('warning', 'MIC313', `${what}, and that scope holds ${shown}: ${consequence}. Allowed because allowPrivilegedRoles is true.`, role.origin, 'scope');
    for (const group of shared) {
      this.find('warning', 'MIC312', `Identities of environments ${group.environments.join(', ')} share ${group.group}, and ${what}: environment ${this.name} can sign in as the others' identities. Give each environment its own identity resource group.`, role.origin, 'scope');
    }
    return false;
  }

  // ——— Connections and what hangs off them ———

  planConnection(connection: DesiredConnection): void {
    const existing = this.observed.connections.get(connection.name.toLowerCase());
    // A same-named connection that is not ours is not reported as ours (outputs, summary).
    const ours = existing && !existing.readerStub && whyNotManageable(existing) === undefined ? existing : undefined;
    const wanted = { name: connection.name, subscriptionId: connection.subscriptionId, ...(connection.resourceGroup === undefined ? {} : { resourceGroup: connection.resourceGroup }) };
    this.snapshots.push(ours ? { ...wanted, observed: ours } : wanted);
    const subscription = this.observed.subscriptions.get(connection.subscriptionId.toLowerCase());
    if (!subscription) {
      this.find('error', 'MIC307', `Subscription ${connection.subscriptionId} of connection ${connection.name} was not found, or the bootstrap identity cannot read it.`, connection.origin, 'subscriptionId', connection.name);
      return;
    }
    const identityTenant = this.current?.identity.tenantId ?? this.observed.subscriptions.get(this.environment.identity.ref.subscriptionId.toLowerCase())?.tenantId;
    if (identityTenant !== undefined && identityTenant.toLowerCase() !== subscription.tenantId.toLowerCase()) {
      this.find(
        'error',
        'MIC208',
        `Connection ${connection.name} targets subscription ${subscription.displayName} in tenant ${subscription.tenantId}, but identity ${this.environment.identity.ref.name} lives in tenant ${identityTenant}.`,
        connection.origin,
        'subscriptionId',
        connection.name,
      );
      return;
    }
    if (existing?.readerStub) {
      this.find(
        'error',
        'MIC422',
        `Service connection ${existing.name} exists, but the identity running the task has only the Reader role on it (Azure DevOps shows it a stub); it needs the Administrator role on the connection to manage it.`,
        connection.origin,
        'name',
        connection.name,
      );
      return;
    }
    if (existing) {
      const foreign = whyNotManageable(existing);
      if (foreign !== undefined) {
        this.find('error', 'MIC401', `A service connection named ${existing.name} already exists and ${foreign}; it is left untouched.`, connection.origin, 'name', connection.name);
        return;
      }
      if (existing.isDisabled) {
        this.find('warning', 'MIC402', `Service connection ${existing.name} is disabled; the task does not re-enable it, and does not test it.`, connection.origin, 'name', connection.name);
      }
      const failed = existing.operationStatus?.state.toLowerCase() === 'failed';
      if (!existing.isReady || failed) {
        const status = existing.operationStatus ? ` (${existing.operationStatus.state}${existing.operationStatus.message ? `: ${existing.operationStatus.message}` : ''})` : '';
        this.find('warning', 'MIC403', `Service connection ${existing.name} is not ready${status}.`, connection.origin, 'name', connection.name);
      }
    }
    const hasRoleInSubscription = this.environment.roles.some((role) => isWithinScope(role.scope, subscriptionScope(connection.subscriptionId)));
    if (!hasRoleInSubscription) {
      this.find(
        'warning',
        'MIC507',
        `No role of environment ${this.name} lies in subscription ${subscription.displayName} (${connection.subscriptionId}), which connection ${connection.name} targets: unless the identity has a role there by other means, verifying the connection will fail.`,
        connection.origin,
        'subscriptionId',
        connection.name,
      );
    }

    const definition: ConnectionDefinitionPlan = {
      name: connection.name,
      description: connection.description,
      url: this.settings.connectionUrl,
      azureEnvironment: this.settings.azureEnvironment,
      tenantId: this.identityOutput('identity.tenantId', this.current?.identity.tenantId),
      clientId: this.identityOutput('identity.clientId', this.current?.identity.clientId),
      subscriptionId: connection.subscriptionId,
      subscriptionName: subscription.displayName,
      ...(connection.resourceGroup === undefined ? {} : { resourceGroupScope: resourceGroupScope(connection.subscriptionId, connection.resourceGroup) }),
      project: this.settings.project,
      ownerMarker: connectionOwnerMarker(this.settings.project, this.name),
    };

    const connectionActionId = this.id(`connection:${connection.name}`);
    let createdConnection: ActionId | undefined;
    let updatedConnection: ActionId | undefined;
    if (!existing) {
      createdConnection = connectionActionId;
      this.connectionActions.push({
        kind: 'createConnection',
        id: connectionActionId,
        environment: this.name,
        reason: `Service connection ${connection.name} does not exist in project ${this.settings.project.name}.`,
        dependsOn: this.identityDependency(),
        connectionName: connection.name,
        definition,
      });
    } else {
      const changes = this.connectionChanges(existing, definition);
      if (changes.length > 0) {
        updatedConnection = connectionActionId;
        this.connectionActions.push({
          kind: 'updateConnection',
          id: connectionActionId,
          environment: this.name,
          reason: `Service connection ${existing.name} differs from the spec in: ${changes.map((change) => change.field).join(', ')}.`,
          dependsOn: this.identityDependency(),
          connectionName: connection.name,
          connectionId: existing.id,
          definition,
          changes,
        });
      }
    }

    const credentialAction = this.planCredential(connection, existing, createdConnection ?? updatedConnection);
    const connectionId: Resolvable<string> = createdConnection ? fromAction(createdConnection, 'connection.id') : known(existing!.id);
    const afterCreate = createdConnection ? [createdConnection] : [];
    // Checks first: no pipeline should be able to use the connection before its checks guard it.
    const checkIds = this.planChecks(connection, existing, connectionId, afterCreate);
    const share = this.planSharing(connection, existing, connectionId, afterCreate);
    this.planAuthorization(connection, existing, connectionId, [...afterCreate, ...checkIds], share);

    if (existing?.isDisabled) return;
    const connectionAction = createdConnection ?? updatedConnection;
    this.testActions.push({
      kind: 'testConnection',
      id: this.id(`test:${connection.name}`),
      environment: this.name,
      reason: `Prove that service connection ${connection.name} can sign in as identity ${this.environment.identity.ref.name}.`,
      // The login needs the identity, the connection, its credential and the roles (TestConnection reads the
      // subscription with the identity's token). Tag updates do not matter to it.
      dependsOn: [
        ...this.identityDependency(),
        ...(connectionAction ? [connectionAction] : []),
        ...(credentialAction ? [credentialAction] : []),
        ...this.roleActions.map((action) => action.id),
      ],
      connectionName: connection.name,
      connection: connectionAction ? fromAction(connectionAction, 'connection') : known(existing!),
      // Without a role in the subscription, AuthorizationFailed is the final answer, not a propagation delay.
      waitForRoles: hasRoleInSubscription,
      ...(credentialAction ? { credentialWrittenThisRun: true } : {}),
    });
  }

  private connectionChanges(existing: ServiceConnection, definition: ConnectionDefinitionPlan): ConnectionChange[] {
    const changes: ConnectionChange[] = [];
    const differs = (a: string | undefined, b: string | undefined): boolean => (a ?? '').toLowerCase() !== (b ?? '').toLowerCase();
    if (existing.description !== definition.description) changes.push({ field: 'description', from: existing.description, to: known(definition.description) });
    if (differs(existing.resourceGroupScope && normalizeScope(existing.resourceGroupScope), definition.resourceGroupScope && normalizeScope(definition.resourceGroupScope))) {
      changes.push({ field: 'scope', from: existing.resourceGroupScope, to: known(definition.resourceGroupScope) });
    }
    if (differs(existing.subscriptionId, definition.subscriptionId)) changes.push({ field: 'subscription', from: existing.subscriptionId, to: known(definition.subscriptionId) });
    // A new identity lives in its subscription's tenant; an existing one says where it lives.
    const tenant = this.current?.identity.tenantId ?? this.observed.subscriptions.get(this.environment.identity.ref.subscriptionId.toLowerCase())?.tenantId;
    if (differs(existing.tenantId, tenant)) changes.push({ field: 'tenant', from: existing.tenantId, to: definition.tenantId });
    // A new identity has a new client id: a connection that exists must be re-pointed at it.
    if (this.current === undefined || differs(existing.clientId, this.current.identity.clientId)) {
      changes.push({ field: 'serviceprincipalid', from: existing.clientId, to: definition.clientId });
    }
    return changes;
  }

  /**
   * `writtenConnection`: the action creating or updating the connection, if any. Its answer is the only
   * trustworthy issuer and subject — Azure DevOps generates them, and a save may move them (a changed tenant,
   * or the move to the Entra issuer) — so the credential is then written from what that action reads back.
   */
  private planCredential(connection: DesiredConnection, existing: ServiceConnection | undefined, writtenConnection: ActionId | undefined): ActionId | undefined {
    const credentials = this.current?.federatedCredentials ?? [];
    const identity = this.environment.identity.ref;
    const ourName = federatedCredentialName(connection.name);
    const id = this.id(`credential:${connection.name}`);
    const base = { id, environment: this.name, identity, connectionName: connection.name, audience: tokenExchangeAudience } as const;
    const ours = credentials.find((credential) => sameName(credential.name, ourName));

    if (!existing || writtenConnection) {
      const dependsOn = [...this.identityDependency(), writtenConnection!];
      const issuer = fromAction<string>(writtenConnection!, 'connection.issuer');
      const subject = fromAction<string>(writtenConnection!, 'connection.subject');
      if (!existing) {
        this.credentialActions.push(
          ours
            ? { ...base, kind: 'updateFederatedCredential', reason: `Connection ${connection.name} is new; credential ${ours.name} exists and is rewritten with the issuer and subject read back after creation.`, dependsOn, credentialName: ours.name, issuer, subject, previous: ours }
            : { ...base, kind: 'createFederatedCredential', reason: `Connection ${connection.name} is new; its issuer and subject are read back after creation.`, dependsOn, credentialName: ourName, issuer, subject },
        );
        return id;
      }
      // The credential that trusts the connection as it is now is the one to move along with it.
      const target = credentials.find((credential) => credential.issuer === existing.issuer && credential.subject === existing.subject) ?? ours;
      const why = `Connection ${connection.name} is updated, and Azure DevOps may answer the update with another issuer and subject`;
      this.credentialActions.push(
        target
          ? { ...base, kind: 'updateFederatedCredential', reason: `${why}; credential ${target.name} is rewritten with the pair read back from the update.`, dependsOn, credentialName: target.name, issuer, subject, previous: target }
          : { ...base, kind: 'createFederatedCredential', reason: `${why}; its credential is written with the pair read back from the update.`, dependsOn, credentialName: ourName, issuer, subject },
      );
      return id;
    }
    if (!existing.issuer || !existing.subject) {
      this.find('error', 'MIC407', `Service connection ${existing.name} has no workload identity federation issuer or subject to trust.`, connection.origin, 'name', connection.name);
      return undefined;
    }
    const issuer = existing.issuer;
    const subject = existing.subject;
    if (credentials.some((credential) => credential.issuer === issuer && credential.subject === subject && hasExactAudience(credential))) return undefined;

    const dependsOn = this.identityDependency();
    const pair = { issuer: known(issuer), subject: known(subject) };
    const samePair = credentials.find((credential) => credential.issuer === issuer && credential.subject === subject);
    const sameIgnoringCase = credentials.find((credential) => sameName(credential.issuer, issuer) && sameName(credential.subject, subject));
    const target = samePair ?? sameIgnoringCase ?? ours;
    if (!target) {
      const reason = this.current
        ? `No federated credential on identity ${identity.name} trusts connection ${connection.name} (issuer ${issuer}, subject ${subject}).`
        : `The new identity ${identity.name} needs a federated credential for connection ${connection.name}.`;
      this.credentialActions.push({ ...base, kind: 'createFederatedCredential', reason, dependsOn, credentialName: ourName, ...pair });
      return id;
    }
    let reason: string;
    if (target === samePair) {
      reason = `Credential ${target.name} trusts connection ${connection.name} but its audiences are [${target.audiences.join(', ')}]; Entra needs exactly ${tokenExchangeAudience}.`;
    } else if (target === sameIgnoringCase) {
      reason = `Credential ${target.name} matches connection ${connection.name} only when ignoring case; Entra compares issuer and subject case-sensitively, so it is rewritten.`;
    } else if (isMoveToEntraIssuer(target.issuer, issuer)) {
      reason = `Azure DevOps moved connection ${connection.name} to the Entra issuer (${target.issuer} → ${issuer}); credential ${target.name} is updated in place.`;
    } else {
      reason = `Connection ${connection.name} now has issuer ${issuer} and subject ${subject}; credential ${target.name} (issuer ${target.issuer}, subject ${target.subject}) is updated in place.`;
    }
    this.credentialActions.push({ ...base, kind: 'updateFederatedCredential', reason, dependsOn, credentialName: target.name, ...pair, previous: target });
    return id;
  }

  /** One configureCheck per spec check that is missing or differs; checks of other kinds are left alone. */
  private planChecks(connection: DesiredConnection, existing: ServiceConnection | undefined, connectionId: Resolvable<string>, dependsOn: ActionId[]): ActionId[] {
    const current = (existing && this.observed.checks?.get(existing.id.toLowerCase())) ?? [];
    const ids: ActionId[] = [];
    for (const check of connection.checks ?? []) {
      const sameKind = current.filter((candidate) => candidate.kind === check.kind);
      if (sameKind.some((candidate) => sameCheck(candidate, check))) continue;
      const target = sameKind[0];
      const id = this.id(`check:${connection.name}:${check.kind}`);
      ids.push(id);
      this.checkActions.push({
        kind: 'configureCheck',
        id,
        environment: this.name,
        reason: target
          ? `The ${checkLabel(check.kind)} check on connection ${connection.name} differs from the spec; it is rewritten in place.`
          : `Connection ${connection.name} has no ${checkLabel(check.kind)} check yet.`,
        dependsOn,
        connectionName: connection.name,
        connectionId,
        check,
        ...(target ? { existing: target } : {}),
      });
    }
    return ids;
  }

  private planAuthorization(connection: DesiredConnection, existing: ServiceConnection | undefined, connectionId: Resolvable<string>, dependsOn: ActionId[], share: PlannedShare | undefined): void {
    const { authorize } = connection;
    const verificationRun = this.settings.verificationRunPipelineId;
    if (authorize.kind === 'none' && verificationRun === undefined) return;
    const byProject = authorize.kind === 'pipelines' ? this.pipelinesByProject(connection, authorize.pipelineIds) : { here: [], elsewhere: [] };
    if (byProject === undefined) return; // an unknown pipeline: the finding blocks every write
    const permissions = (existing && this.observed.pipelinePermissions.get(permissionsKey(existing.id))) ?? { allPipelines: false, pipelineIds: [] };
    const base = { environment: this.name, connectionName: connection.name, connectionId } as const;
    // Pipelines of a shareWith project are authorized in that project, after the connection is shared with it.
    for (const { project, pipelineIds } of byProject.elsewhere) {
      const sharedNow = share?.projects.some((planned) => planned.id === project.id) ?? false;
      const there = (!sharedNow && existing && this.observed.pipelinePermissions.get(permissionsKey(existing.id, project.id))) || { allPipelines: false, pipelineIds: [] };
      const missing = there.allPipelines ? [] : pipelineIds.filter((pipelineId) => !there.pipelineIds.includes(pipelineId));
      if (missing.length === 0) continue;
      this.permissionActions.push({
        ...base,
        kind: 'authorizePipelines',
        id: this.id(`authorize:${connection.name}@${project.name}`),
        dependsOn: [...dependsOn, ...(sharedNow && share ? [share.id] : [])],
        reason: `Pipeline${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of project ${project.name} may not use connection ${connection.name} yet (Azure DevOps keeps pipeline permissions per project).`,
        allPipelines: false,
        pipelineIds: missing,
        project,
      });
    }
    if (permissions.allPipelines) return; // everything is authorized already; the task never narrows
    const here = { ...base, id: this.id(`authorize:${connection.name}`), dependsOn } as const;
    if (authorize.kind === 'all') {
      this.permissionActions.push({ ...here, kind: 'authorizePipelines', reason: `authorize: all, and not every pipeline may use connection ${connection.name} yet.`, allPipelines: true, pipelineIds: [] });
      return;
    }
    let wanted: number[] = [];
    if (authorize.kind === 'current') {
      if (this.settings.currentPipelineId === undefined) {
        this.find('warning', 'MIC409', `authorize: current for connection ${connection.name}, but this is not a pipeline run; no pipeline is authorized.`, connection.origin, 'authorize', connection.name);
      } else wanted = [this.settings.currentPipelineId];
    } else if (authorize.kind === 'pipelines') wanted = [...byProject.here];
    // The verification run is this pipeline again; Azure Pipelines refuses to start a run that names a
    // connection its pipeline may not use, so the pipeline needs every connection, even `authorize: none`.
    const forVerificationRun = verificationRun !== undefined && !wanted.includes(verificationRun) ? verificationRun : undefined;
    if (forVerificationRun !== undefined) wanted.push(forVerificationRun);
    const missing = wanted.filter((pipelineId) => !permissions.pipelineIds.includes(pipelineId));
    if (missing.length === 0) return;
    const why = authorize.kind === 'current' ? ' (the pipeline running this task)' : '';
    const verificationWhy = forVerificationRun !== undefined && missing.includes(forVerificationRun) ? `; pipeline ${forVerificationRun} runs this task and queues the verification run, which must be able to use it` : '';
    this.permissionActions.push({
      ...here,
      kind: 'authorizePipelines',
      reason: `Pipeline${missing.length > 1 ? 's' : ''} ${missing.join(', ')} may not use connection ${connection.name} yet${why}${verificationWhy}.`,
      allPipelines: false,
      pipelineIds: missing,
      ...(verificationWhy ? { forVerificationRun } : {}),
    });
  }

  /**
   * Which project each listed pipeline belongs to: the one the task runs in, else the first shareWith project
   * that has it. undefined (with an error finding) when one is in none of them: Azure DevOps would refuse the
   * permission only after the identity, connection and credential were written.
   */
  private pipelinesByProject(connection: DesiredConnection, pipelineIds: readonly number[]): { here: number[]; elsewhere: { project: ProjectRef; pipelineIds: number[] }[] } | undefined {
    const has = (project: ProjectRef, pipelineId: number) => this.observed.pipelines.get(project.id.toLowerCase())?.has(pipelineId) ?? false;
    const shareWith = connection.shareWith.flatMap((name) => this.observed.projects.get(name.toLowerCase()) ?? []);
    const here: number[] = [];
    const elsewhere: { project: ProjectRef; pipelineIds: number[] }[] = [];
    const unknown: number[] = [];
    for (const pipelineId of pipelineIds) {
      if (has(this.settings.project, pipelineId)) {
        here.push(pipelineId);
        continue;
      }
      const project = shareWith.find((candidate) => has(candidate, pipelineId));
      if (!project) {
        unknown.push(pipelineId);
        continue;
      }
      const entry = elsewhere.find((item) => item.project.id === project.id);
      if (entry) entry.pipelineIds.push(pipelineId);
      else elsewhere.push({ project, pipelineIds: [pipelineId] });
    }
    if (unknown.length === 0) return { here, elsewhere };
    const searched = [this.settings.project, ...shareWith].map((project) => project.name).join(', ');
    this.find(
      'error',
      'MIC412',
      `Pipeline${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (authorize of connection ${connection.name}) ${unknown.length > 1 ? 'exist' : 'exists'} in none of the projects ${searched}.`,
      connection.origin,
      'authorize',
      connection.name,
    );
    return undefined;
  }

  private planSharing(connection: DesiredConnection, existing: ServiceConnection | undefined, connectionId: Resolvable<string>, dependsOn: ActionId[]): PlannedShare | undefined {
    if (connection.shareWith.length === 0) return undefined;
    const references = existing?.projectReferences ?? [this.settings.project];
    const missing = [];
    for (const name of connection.shareWith) {
      const project = this.observed.projects.get(name.toLowerCase());
      if (!project) {
        this.find('error', 'MIC406', `Project ${JSON.stringify(name)} (shareWith of connection ${connection.name}) was not found.`, connection.origin, 'shareWith', connection.name);
        continue;
      }
      if (references.some((reference) => reference.id.toLowerCase() === project.id.toLowerCase() || sameName(reference.name, project.name))) continue;
      if (this.collidesInProject(connection, existing, project)) continue;
      missing.push(project);
    }
    if (missing.length === 0) return undefined;
    const id = this.id(`share:${connection.name}`);
    this.permissionActions.push({
      kind: 'shareConnection',
      id,
      environment: this.name,
      reason: `Connection ${connection.name} is not yet shared with ${missing.map((project) => project.name).join(', ')}.`,
      dependsOn,
      connectionName: connection.name,
      connectionId,
      projects: missing,
    });
    return { id, projects: missing };
  }

  /**
   * Whether the project to share with already has another connection of this name (sharing would fail with
   * "already exists"); reports why as an error finding. When this project has no such connection but the other
   * one signs in as this environment's identity, it is our own connection, deleted in this project while still
   * shared: creating it again would give it a new id and rewrite the identity's federated credential away from
   * the copy the other project still uses.
   */
  private collidesInProject(connection: DesiredConnection, existing: ServiceConnection | undefined, project: ProjectRef): boolean {
    const other = this.observed.otherProjectConnections.get(otherProjectConnectionKey(project.id, connection.name));
    if (!other || other.id.toLowerCase() === existing?.id.toLowerCase()) return false;
    const ours = this.current !== undefined && sameName(other.clientId ?? '', this.current.identity.clientId);
    if (!existing && ours) {
      this.find(
        'error',
        'MIC413',
        `Service connection ${connection.name} does not exist in project ${this.settings.project.name}, but project ${project.name} still has it (id ${other.id}), signing in as identity ${this.environment.identity.ref.name}: it was deleted in ${this.settings.project.name} while shared. Creating it again would give it a new id and move the identity's federated credential away from the copy ${project.name} uses.`,
        connection.origin,
        'name',
        connection.name,
      );
    } else {
      this.find(
        'error',
        'MIC414',
        `Project ${project.name} already has another service connection named ${other.name} (id ${other.id}), so connection ${connection.name} cannot be shared with it.`,
        connection.origin,
        'shareWith',
        connection.name,
      );
    }
    return true;
  }

  checkCredentialBudget(): void {
    const existing = this.current?.federatedCredentials.length ?? 0;
    const added = this.credentialActions.filter((action) => action.kind === 'createFederatedCredential').length;
    if (existing + added > federatedCredentialLimit) {
      this.find(
        'error',
        'MIC202',
        `Identity ${this.environment.identity.ref.name} has ${existing} federated credentials and needs ${added} more; an identity holds at most ${federatedCredentialLimit}.`,
        this.environment.origin,
        'connections',
      );
    }
  }

  result(): EnvironmentPlan {
    const { ref, location } = this.environment.identity;
    return {
      environment: this.name,
      identity: this.current ? { ref, location, observed: this.current.identity } : { ref, location },
      connections: this.snapshots,
      // Dependencies only point to earlier groups, so this order is a topological order.
      actions: [...this.identityActions, ...this.connectionActions, ...this.credentialActions, ...this.roleActions, ...this.checkActions, ...this.permissionActions, ...this.testActions],
      findings: this.findings,
    };
  }
}

/** Why a connection with our name is not ours to change, or undefined when it is. */
export function whyNotManageable(connection: ServiceConnection): string | undefined {
  if (!isAzureRm(connection)) return `is of type ${connection.type}, not Azure Resource Manager`;
  if (!isFederated(connection)) return `uses the ${connection.authorizationScheme} scheme, not workload identity federation`;
  // Automatic connections are backed by an app registration Azure DevOps manages; re-pointing one at our
  // identity would orphan that registration and fight Azure DevOps.
  if (connection.creationMode !== undefined && connection.creationMode.toLowerCase() !== 'manual') return `was created in ${connection.creationMode} mode (Azure DevOps manages its app registration)`;
  if (connection.scopeLevel !== undefined && connection.scopeLevel.toLowerCase() !== 'subscription') return `is scoped to a ${connection.scopeLevel}, not a subscription`;
  return undefined;
}

/** Equal as the task writes them (both sides normalized: approvers lowercase and sorted, days in week order). */
function sameCheck(observed: ConnectionCheck, desired: CheckSpec): boolean {
  const { id: _id, ...rest } = observed;
  return canonicalJson(rest) === canonicalJson(desired);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => a.localeCompare(b))) : item,
  );
}

function hasExactAudience(credential: FederatedCredential): boolean {
  return credential.audiences.length === 1 && credential.audiences[0] === tokenExchangeAudience;
}

/** From the Azure DevOps issuer to any other, which is Entra's in every cloud (login.microsoftonline.com, .us, …). */
function isMoveToEntraIssuer(from: string, to: string): boolean {
  return isLegacyIssuer(from) && !isLegacyIssuer(to);
}

/** Existing tags plus the desired ones (tag names compare ignoring case, values exactly); never removes a tag. */
function mergeTags(existing: Readonly<Record<string, string>>, desired: Readonly<Record<string, string>>): { merged: Record<string, string>; changed: Record<string, string> } {
  const merged: Record<string, string> = { ...existing };
  const changed: Record<string, string> = {};
  for (const [key, value] of Object.entries(desired)) {
    const existingKey = Object.keys(merged).find((candidate) => candidate.toLowerCase() === key.toLowerCase()) ?? key;
    if (merged[existingKey] === value) continue;
    merged[existingKey] = value;
    changed[existingKey] = value;
  }
  return { merged, changed };
}
