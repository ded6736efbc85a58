// The lifecycle half of plan(): what exists, carries our ownership marker (ownership.ts) and is not in the spec.
// PURE, like plan.ts. Without `prune` such objects are warnings (MIC530); with it they become destructive
// actions; the teardown command turns every owned object of the selected environments into one.
//
// Rules that shape everything below (docs/lifecycle.md):
// - Only what carries the marker is touched. Anything else is "not owned, left alone", and said so.
// - One teardown order, each step a separate action that depends on the previous one: pipeline permissions
//   and shares → connection → credentials → role assignments → identity. Every step deletes something that a
//   rerun would find again if the step had not happened, so a run killed at any step is finished by the next.
// - A connection a job used within keepUsedWithinDays is kept unless deleteUsedConnections, and with it what
//   it signs in with (its credential, and in a teardown the identity and its roles).
// - More destructive actions than maxDeletions in one plan: refused as a whole (MIC531), nothing written.
import { problem, type ErrorCode } from '../errors';
import {
  isDestructive,
  roleKey,
  type Action,
  type ActionId,
  type DesiredEnvironment,
  type DesiredState,
  type DestructiveAction,
  type EnvironmentPlan,
  type FederatedCredential,
  type Finding,
  type LifecycleSettings,
  type ObservedIdentity,
  type ObservedWorld,
  type PlanSettings,
  type RoleAssignment,
  type ServiceConnection,
  type Severity,
} from './model';
import { federatedCredentialName, grantKey, identityKey, roleDefinitionGuidOf, sameName } from './names';
import { assignmentMarkerOf, conversionOf, identityOwnership, isOwnedAssignment, isOwnedConnection, isOwnedCredentialName, markedEnvironment } from './ownership';
import { parseScope } from './scopes';

const reportOnly: LifecycleSettings = {
  prune: false,
  teardown: false,
  maxDeletions: 0,
  keepUsedWithinDays: 0,
  deleteUsedConnections: false,
  now: new Date(0).toISOString(),
  specEnvironments: [],
  onlySelected: true,
};

function lifecycleOf(settings: PlanSettings): LifecycleSettings {
  return settings.lifecycle ?? reportOnly;
}

/** Adds what the spec no longer wants to the environments' plans, and plans environments removed from the spec. */
export function planLifecycle(desired: DesiredState, observed: ObservedWorld, plans: readonly EnvironmentPlan[]): EnvironmentPlan[] {
  const lifecycle = lifecycleOf(desired.settings);
  const context = new Context(desired, observed, lifecycle);
  const result = plans.map((environmentPlan, index) => context.surplusOf(desired.environments[index]!, environmentPlan));
  if (!lifecycle.onlySelected) result.push(...context.removedEnvironments());
  return limitDeletions(result, lifecycle);
}

/** The teardown command: every owned object of the selected environments, in teardown order; nothing created. */
export function planTeardown(desired: DesiredState, observed: ObservedWorld): EnvironmentPlan[] {
  const lifecycle = lifecycleOf(desired.settings);
  const context = new Context(desired, observed, lifecycle);
  return limitDeletions(
    desired.environments.map((environment) => context.teardown(environment)),
    lifecycle,
  );
}

function limitDeletions(plans: EnvironmentPlan[], lifecycle: LifecycleSettings): EnvironmentPlan[] {
  const destructive = plans.flatMap((environmentPlan) => environmentPlan.actions.filter(isDestructive));
  if (destructive.length <= lifecycle.maxDeletions) return plans;
  const first = plans.findIndex((environmentPlan) => environmentPlan.actions.some(isDestructive));
  const finding: Finding = {
    ...problem(
      'MIC531',
      `This plan deletes or narrows ${destructive.length} objects, more than maxDeletions (${lifecycle.maxDeletions}); nothing is changed. Review the plan, then raise maxDeletions for this run, or tear down fewer environments at a time (only).`,
      { environment: plans[first]!.environment, field: 'maxDeletions' },
    ),
    severity: 'error',
  };
  return plans.map((environmentPlan, index) => (index === first ? { ...environmentPlan, findings: [...environmentPlan.findings, finding] } : environmentPlan));
}

/** Builds one environment's destructive actions in teardown order, or, without prune, the words for MIC530. */
class Demolition {
  readonly actions: DestructiveAction[] = [];
  readonly findings: Finding[] = [];
  /** What prune would remove, for the MIC530 warning when it is off. */
  readonly surplus: string[] = [];
  /** Connections deleted, by lowercased issuer|subject: their credential waits for them. */
  private readonly deletedConnections = new Map<string, ActionId>();
  /** Credentials kept because a kept connection signs in with them. */
  private readonly keptPairs = new Set<string>();
  /** Something that the identity's deletion would break is kept. */
  identityNeeded = false;

  constructor(
    private readonly environment: string,
    private readonly execute: boolean,
    private readonly context: Context,
  ) {}

  private id(what: string): ActionId {
    return `${this.environment}/${what}`;
  }

  find(severity: Severity, code: ErrorCode, message: string, connection?: string): void {
    this.findings.push({ ...problem(code, message, { environment: this.environment }), severity, ...(connection === undefined ? {} : { connection }) });
  }

  private add(action: DestructiveAction, surplus: string): void {
    this.surplus.push(surplus);
    if (this.execute) this.actions.push(action);
  }

  /** Shares and pipeline permissions first, then the connection; kept whole when a job used it recently. */
  connection(connection: ServiceConnection, why: string): void {
    if (!this.execute) {
      // Reported only (MIC530): whether it would be kept for recent use is for the run that prunes to say.
      this.surplus.push(`connection ${connection.name}`);
      return;
    }
    const lastUsed = this.context.lastUsedOf(connection);
    const pair = pairKey(connection.issuer ?? '', connection.subject ?? '');
    if (lastUsed.keep) {
      this.keptPairs.add(pair);
      this.identityNeeded = true;
      this.find('warning', 'MIC532', `Service connection ${connection.name} ${why}, but ${lastUsed.words}: it is kept, with what it signs in with. Set deleteUsedConnections to delete it anyway.`, connection.name);
      return;
    }
    const before: ActionId[] = [];
    const project = this.context.project;
    const shared = connection.projectReferences.filter((reference) => !sameProject(reference, project));
    if (shared.length > 0) {
      const id = this.id(`unshare-all:${connection.name}`);
      this.add(
        { kind: 'unshareConnection', id, environment: this.environment, reason: `Connection ${connection.name} ${why}; it is removed from the projects it is shared with first.`, dependsOn: [], connectionName: connection.name, connectionId: connection.id, projects: shared },
        `sharing of connection ${connection.name} with ${shared.map((reference) => reference.name).join(', ')}`,
      );
      before.push(id);
    }
    const permissions = this.context.observed.pipelinePermissions.get(connection.id.toLowerCase());
    if (permissions && (permissions.allPipelines || permissions.pipelineIds.length > 0)) {
      const id = this.id(`revoke-all:${connection.name}`);
      this.add(
        {
          kind: 'revokePipelines',
          id,
          environment: this.environment,
          reason: `Connection ${connection.name} ${why}; no pipeline may use it any more.`,
          dependsOn: [],
          connectionName: connection.name,
          connectionId: connection.id,
          allPipelines: permissions.allPipelines,
          pipelineIds: permissions.pipelineIds,
        },
        `pipeline permissions of connection ${connection.name}`,
      );
      before.push(id);
    }
    const id = this.id(`delete-connection:${connection.name}`);
    this.add(
      {
        kind: 'deleteConnection',
        id,
        environment: this.environment,
        reason: `Connection ${connection.name} ${why}${lastUsed.iso ? ` (last used ${lastUsed.iso})` : ' (never used)'}.`,
        dependsOn: before,
        connectionName: connection.name,
        connectionId: connection.id,
        project,
        ...(lastUsed.iso ? { lastUsed: lastUsed.iso } : {}),
      },
      `connection ${connection.name}`,
    );
    this.deletedConnections.set(pair, id);
  }

  /** After the connection that signs in with it; kept while a kept connection does. */
  credential(identity: ObservedIdentity, credential: FederatedCredential, why: string): ActionId | undefined {
    const pair = pairKey(credential.issuer, credential.subject);
    if (this.keptPairs.has(pair)) return undefined;
    const after = this.deletedConnections.get(pair);
    const id = this.id(`delete-credential:${credential.name}`);
    this.add(
      {
        kind: 'deleteFederatedCredential',
        id,
        environment: this.environment,
        reason: `Credential ${credential.name} on identity ${identity.identity.name} ${why}.`,
        dependsOn: after ? [after] : [],
        identity: refOf(identity),
        credentialName: credential.name,
        issuer: credential.issuer,
        subject: credential.subject,
      },
      `credential ${credential.name}`,
    );
    return id;
  }

  role(identity: ObservedIdentity | string, assignment: RoleAssignment, why: string, after: readonly ActionId[]): ActionId {
    const id = this.id(`delete-role:${assignment.name}`);
    const roleName = this.context.roleNameOf(assignment);
    const identityName = typeof identity === 'string' ? identity : identity.identity.name;
    this.add(
      {
        kind: 'deleteRoleAssignment',
        id,
        environment: this.environment,
        reason: `${roleName} on ${assignment.scope} for ${typeof identity === 'string' ? identity : `identity ${identityName}`} ${why}.`,
        dependsOn: [...after],
        assignmentId: assignment.id,
        scope: assignment.scope,
        roleName,
        principalId: assignment.principalId,
        identityName,
      },
      `${roleName} on ${assignment.scope}${typeof identity === 'string' ? ` (${identity})` : ''}`,
    );
    return id;
  }

  /** Assignments our marker gives this environment, held by a principal no owned identity has any more. */
  orphans(): void {
    for (const assignment of this.context.orphanedAssignments(this.environment)) {
      this.role(`deleted principal ${assignment.principalId}`, assignment, 'was left behind when that identity was deleted', []);
    }
  }

  /** Last, after everything else of this environment. */
  identity(identity: ObservedIdentity, why: string): void {
    this.add(
      {
        kind: 'deleteIdentity',
        id: this.id('delete-identity'),
        environment: this.environment,
        reason: `Identity ${identity.identity.name} ${why}.`,
        dependsOn: this.actions.map((action) => action.id),
        identity: refOf(identity),
        clientId: identity.identity.clientId,
      },
      `identity ${identity.identity.name}`,
    );
  }

  /** Every owned credential and role of an identity that goes entirely, then the identity if nothing needs it. */
  wholeIdentity(identity: ObservedIdentity, why: string): void {
    const credentialIds: ActionId[] = [];
    for (const credential of identity.federatedCredentials.filter((item) => isOwnedCredentialName(item.name))) {
      const id = this.credential(identity, credential, why);
      if (id) credentialIds.push(id);
    }
    const foreignCredentials = identity.federatedCredentials.filter((item) => !isOwnedCredentialName(item.name));
    const ownedAssignments = identity.roleAssignments.filter((assignment) => isOwnedAssignment(assignment, this.context.project));
    const foreignAssignments = identity.roleAssignments.filter((assignment) => !isOwnedAssignment(assignment, this.context.project));
    if (!this.identityNeeded) {
      // Roles after the credentials: from the first deletion on, nothing can sign in with them any more.
      const connectionDeletes = this.actions.filter((action) => action.kind === 'deleteConnection').map((action) => action.id);
      for (const assignment of ownedAssignments) this.role(identity, assignment, why, this.execute ? [...connectionDeletes, ...credentialIds] : []);
    }
    if (this.identityNeeded) return;
    if (foreignCredentials.length > 0 || foreignAssignments.length > 0) {
      const what = [
        ...foreignCredentials.map((credential) => `credential ${credential.name}`),
        ...foreignAssignments.map((assignment) => `role assignment ${assignment.name} on ${assignment.scope}`),
      ];
      this.find('warning', 'MIC533', `Identity ${identity.identity.name} also holds what this task did not create (${what.join(', ')}): not owned, left alone — the identity is kept so as not to break them.`);
      return;
    }
    this.identity(identity, why);
  }

  plan(base: Omit<EnvironmentPlan, 'actions' | 'findings'> & { actions?: readonly Action[]; findings?: readonly Finding[] }): EnvironmentPlan {
    const findings = [...(base.findings ?? []), ...this.findings];
    if (!this.execute && this.surplus.length > 0) {
      findings.push({
        ...problem('MIC530', `Owned by this task but not in the spec: ${this.surplus.join('; ')}. Run provision with prune: true to remove ${this.surplus.length === 1 ? 'it' : 'them'}.`, { environment: this.environment }),
        severity: 'warning',
      });
    }
    return { ...base, actions: [...(base.actions ?? []), ...this.actions], findings };
  }
}

class Context {
  readonly project;
  private readonly now: number;
  /** Connection names the spec's selected environments use: never deleted as surplus. */
  private readonly specConnections: Set<string>;

  constructor(
    readonly desired: DesiredState,
    readonly observed: ObservedWorld,
    readonly lifecycle: LifecycleSettings,
  ) {
    this.project = desired.settings.project;
    this.now = Date.parse(lifecycle.now);
    this.specConnections = new Set(desired.environments.flatMap((environment) => environment.connections.map((connection) => connection.name.toLowerCase())));
  }

  ownedIdentity(ref: DesiredEnvironment['identity']['ref']): ObservedIdentity | undefined {
    const found = this.observed.identities.get(identityKey(ref));
    return found && identityOwnership(found.identity, this.project).kind === 'ours' ? found : undefined;
  }

  /**
   * Connections of the project that belong to this environment or sign in as this identity, the spec's
   * excepted. One marked for the environment but signing in as another owned identity the spec no longer
   * names goes with that identity's plan (removedEnvironments), not twice.
   */
  surplusConnections(environment: string, identity: ObservedIdentity | undefined): ServiceConnection[] {
    const elsewhere = new Set((this.observed.ownedIdentities ?? []).filter((item) => item !== identity).map((item) => item.identity.clientId.toLowerCase()));
    return (this.observed.projectConnections ?? []).filter((connection) => {
      if (this.specConnections.has(connection.name.toLowerCase())) return false;
      const marked = markedEnvironment(connection, this.project);
      if (marked !== undefined) return marked === environment && !elsewhere.has((connection.clientId ?? '').toLowerCase());
      return identity !== undefined && isOwnedConnection(connection, this.project, identity);
    });
  }

  lastUsedOf(connection: ServiceConnection): { keep: boolean; iso?: string; words: string } {
    const map = this.observed.lastUsed;
    const known = map?.has(connection.id.toLowerCase()) ?? false;
    const iso = map?.get(connection.id.toLowerCase()) ?? undefined;
    if (!known) return { keep: !this.lifecycle.deleteUsedConnections, words: 'its execution history could not be read' };
    if (iso === undefined) return { keep: false, words: 'it was never used' };
    const days = (this.now - Date.parse(iso)) / 86_400_000;
    const recent = days < this.lifecycle.keepUsedWithinDays;
    return { keep: recent && !this.lifecycle.deleteUsedConnections, iso, words: `a job used it on ${iso}, within the last ${this.lifecycle.keepUsedWithinDays} days` };
  }

  /** Principals of every identity this run knows: an assignment held by one of them is not an orphan. */
  private knownPrincipals(): Set<string> {
    return new Set([...this.observed.identities.values(), ...(this.observed.ownedIdentities ?? [])].map((item) => item.identity.principalId.toLowerCase()));
  }

  /** Marked for this project and environment, held by a principal of no identity the run knows (deleted). */
  orphanedAssignments(environment: string): RoleAssignment[] {
    const known = this.knownPrincipals();
    return (this.observed.markedAssignments ?? []).filter((assignment) => {
      const marker = assignmentMarkerOf(assignment.description);
      return marker?.projectId === this.project.id.toLowerCase() && marker.environment === environment && !known.has(assignment.principalId.toLowerCase());
    });
  }

  roleNameOf(assignment: RoleAssignment): string {
    const guid = roleDefinitionGuidOf(assignment.roleDefinitionId);
    return [...this.observed.roleDefinitions.values()].find((definition) => definition.guid.toLowerCase() === guid)?.roleName ?? `role ${guid}`;
  }

  /** One environment of the spec: what its owned identity and connections hold beyond it. */
  surplusOf(environment: DesiredEnvironment, environmentPlan: EnvironmentPlan): EnvironmentPlan {
    const demolition = new Demolition(environment.name, this.lifecycle.prune, this);
    const identity = this.ownedIdentity(environment.identity.ref);
    const notInSpec = 'is owned by this task but not in the spec';
    for (const connection of this.surplusConnections(environment.name, identity)) demolition.connection(connection, `${notInSpec} (environment ${environment.name})`);
    for (const connection of environment.connections) this.narrowConnection(environment, connection, identity, environmentPlan, demolition);
    if (identity) {
      const used = this.credentialsInUse(environment, environmentPlan);
      for (const credential of identity.federatedCredentials) {
        if (!isOwnedCredentialName(credential.name) || used.names.has(credential.name.toLowerCase()) || used.pairs.has(pairKey(credential.issuer, credential.subject))) continue;
        demolition.credential(identity, credential, 'trusts no connection of the spec');
      }
      const wanted = this.wantedRoles(environment);
      if (wanted !== undefined) {
        for (const assignment of identity.roleAssignments) {
          if (assignment.principalId.toLowerCase() !== identity.identity.principalId.toLowerCase() || !isOwnedAssignment(assignment, this.project)) continue;
          if (wanted.has(grantKey(assignment.roleDefinitionId, assignment.scope))) continue;
          demolition.role(identity, assignment, 'is not in the spec', []);
        }
      }
    }
    demolition.orphans();
    return demolition.plan(environmentPlan);
  }

  /** Pipeline permissions and shares of a spec connection beyond what its spec entry says. */
  private narrowConnection(environment: DesiredEnvironment, desired: DesiredEnvironment['connections'][number], identity: ObservedIdentity | undefined, environmentPlan: EnvironmentPlan, demolition: Demolition): void {
    const existing = this.observed.connections.get(desired.name.toLowerCase());
    if (!existing || markedEnvironment(existing, this.project) === undefined && !(identity && isOwnedConnection(existing, this.project, identity))) return;
    const execute = this.lifecycle.prune;
    const permissions = this.observed.pipelinePermissions.get(existing.id.toLowerCase());
    const { authorize } = desired;
    const settings = this.desired.settings;
    // authorize: current outside a pipeline run cannot tell which pipeline is meant: nothing is narrowed.
    if (permissions && authorize.kind !== 'all' && !(authorize.kind === 'current' && settings.currentPipelineId === undefined)) {
      const allowed = new Set<number>(authorize.kind === 'pipelines' ? authorize.pipelineIds : []);
      // The pipeline running the task is never revoked: its verification run needs every connection.
      for (const id of [settings.currentPipelineId, settings.verificationRunPipelineId]) if (id !== undefined) allowed.add(id);
      const extra = permissions.pipelineIds.filter((id) => !allowed.has(id));
      if (permissions.allPipelines || extra.length > 0) {
        const grant = environmentPlan.actions.find((action) => action.kind === 'authorizePipelines' && action.connectionName === desired.name);
        const what = [...(permissions.allPipelines ? ['every pipeline'] : []), ...(extra.length > 0 ? [`pipeline${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`] : [])].join(' and ');
        const action: DestructiveAction = {
          kind: 'revokePipelines',
          id: `${environment.name}/revoke:${desired.name}`,
          environment: environment.name,
          reason: `authorize of connection ${desired.name} does not name ${what}.`,
          // Grant first, then revoke: the wanted pipelines never lose access in between.
          dependsOn: grant ? [grant.id] : [],
          connectionName: desired.name,
          connectionId: existing.id,
          allPipelines: permissions.allPipelines,
          pipelineIds: extra,
        };
        demolition.surplus.push(`${what} allowed to use connection ${desired.name}`);
        if (execute) demolition.actions.push(action);
      }
    }
    const shared = existing.projectReferences.filter(
      (reference) => !sameProject(reference, this.project) && !desired.shareWith.some((name) => sameName(name, reference.name) || this.observed.projects.get(name.toLowerCase())?.id.toLowerCase() === reference.id.toLowerCase()),
    );
    if (shared.length > 0) {
      demolition.surplus.push(`sharing of connection ${desired.name} with ${shared.map((reference) => reference.name).join(', ')}`);
      if (execute) {
        demolition.actions.push({
          kind: 'unshareConnection',
          id: `${environment.name}/unshare:${desired.name}`,
          environment: environment.name,
          reason: `shareWith of connection ${desired.name} does not name ${shared.map((reference) => reference.name).join(', ')}.`,
          dependsOn: [],
          connectionName: desired.name,
          connectionId: existing.id,
          projects: shared,
        });
      }
    }
  }

  /** Names and issuer|subject pairs the spec's connections sign in with (as they are, and as planned). */
  private credentialsInUse(environment: DesiredEnvironment, environmentPlan: EnvironmentPlan): { names: Set<string>; pairs: Set<string> } {
    const names = new Set<string>();
    const pairs = new Set<string>();
    for (const connection of environment.connections) {
      names.add(federatedCredentialName(connection.name).toLowerCase());
      const existing = this.observed.connections.get(connection.name.toLowerCase());
      if (existing?.issuer && existing.subject) pairs.add(pairKey(existing.issuer, existing.subject));
    }
    for (const action of environmentPlan.actions) {
      if (action.kind === 'createFederatedCredential' || action.kind === 'updateFederatedCredential') names.add(action.credentialName.toLowerCase());
    }
    return { names, pairs };
  }

  /** guid|scope of every role the environment wants; undefined when a role is unknown (its error blocks anyway). */
  private wantedRoles(environment: DesiredEnvironment): Set<string> | undefined {
    const wanted = new Set<string>();
    for (const role of environment.roles) {
      const scope = parseScope(role.scope);
      const definition = scope ? this.observed.roleDefinitions.get(roleKey(scope.subscriptionId, role.role)) : undefined;
      if (!definition) return undefined;
      wanted.add(grantKey(definition.guid, role.scope));
    }
    return wanted;
  }

  /** Owned identities whose environment left the spec (or moved to another identity): everything goes. */
  removedEnvironments(): EnvironmentPlan[] {
    const specNames = new Set(this.lifecycle.specEnvironments);
    const plans: EnvironmentPlan[] = [];
    const seen = new Set<string>();
    for (const identity of this.observed.ownedIdentities ?? []) {
      const ownership = identityOwnership(identity.identity, this.project);
      // An identity convert made for one connection belongs to no environment: never "removed" from a spec.
      if (ownership.kind !== 'ours' || conversionOf(identity.identity, this.project) !== undefined) continue;
      const environment = specNames.has(ownership.environment) ? `${ownership.environment}~${identity.identity.name}` : ownership.environment || identity.identity.name;
      seen.add(ownership.environment);
      const why = specNames.has(ownership.environment)
        ? `was environment ${ownership.environment}'s identity, which the spec now gives another identity`
        : `belongs to environment ${ownership.environment}, which is no longer in the spec`;
      const demolition = new Demolition(environment, this.lifecycle.prune, this);
      for (const connection of this.surplusConnections(ownership.environment, identity)) {
        if (markedEnvironment(connection, this.project) === undefined || connection.clientId?.toLowerCase() === identity.identity.clientId.toLowerCase()) demolition.connection(connection, why);
      }
      demolition.wholeIdentity(identity, why);
      demolition.orphans();
      plans.push(demolition.plan({ environment, identity: { ref: refOf(identity), location: identity.identity.location, observed: identity.identity }, connections: [], outsideSpec: true }));
    }
    // Connections marked for a removed environment whose identity is gone already (deleted by hand).
    const orphans = new Map<string, ServiceConnection[]>();
    for (const connection of this.observed.projectConnections ?? []) {
      const marked = markedEnvironment(connection, this.project);
      if (marked === undefined || specNames.has(marked) || seen.has(marked) || this.specConnections.has(connection.name.toLowerCase())) continue;
      orphans.set(marked, [...(orphans.get(marked) ?? []), connection]);
    }
    // And role assignments marked for a removed environment whose identity is gone.
    for (const assignment of this.observed.markedAssignments ?? []) {
      const marked = assignmentMarkerOf(assignment.description)?.environment;
      if (marked === undefined || specNames.has(marked) || seen.has(marked) || orphans.has(marked)) continue;
      if (this.orphanedAssignments(marked).length > 0) orphans.set(marked, []);
    }
    for (const [environment, connections] of orphans) {
      const demolition = new Demolition(environment, this.lifecycle.prune, this);
      for (const connection of connections) demolition.connection(connection, `belongs to environment ${environment}, which is no longer in the spec`);
      demolition.orphans();
      const ref = { subscriptionId: connections[0]?.subscriptionId ?? '', resourceGroup: '', name: '(gone)' };
      plans.push(demolition.plan({ environment, identity: { ref, location: '' }, connections: [], outsideSpec: true }));
    }
    return plans;
  }

  /** The teardown command for one selected environment. */
  teardown(environment: DesiredEnvironment): EnvironmentPlan {
    const demolition = new Demolition(environment.name, true, this);
    const found = this.observed.identities.get(identityKey(environment.identity.ref));
    const identity = this.ownedIdentity(environment.identity.ref);
    const why = `goes with environment ${environment.name} (teardown)`;
    if (found && !identity) {
      const ownership = identityOwnership(found.identity, this.project);
      const words = ownership.kind === 'foreign' ? `is marked as managed by ${ownership.owner}` : 'does not carry the ownership marker';
      demolition.find('warning', 'MIC533', `Identity ${found.identity.name} ${words}: not owned, left alone (with its credentials and roles).`);
    }
    for (const desired of environment.connections) {
      const existing = this.observed.connections.get(desired.name.toLowerCase());
      if (!existing) continue;
      const owned = markedEnvironment(existing, this.project) === environment.name || (identity !== undefined && isOwnedConnection(existing, this.project, identity));
      if (owned) demolition.connection(existing, why);
      else demolition.find('warning', 'MIC533', `Service connection ${existing.name} carries no ownership marker of this project and does not sign in as an identity this task owns: not owned, left alone.`, existing.name);
    }
    for (const connection of this.surplusConnections(environment.name, identity)) demolition.connection(connection, why);
    if (identity) demolition.wholeIdentity(identity, why);
    demolition.orphans();
    const { ref, location } = environment.identity;
    return demolition.plan({
      environment: environment.name,
      identity: found ? { ref, location, observed: found.identity } : { ref, location },
      connections: environment.connections.map((connection) => {
        const observed = this.observed.connections.get(connection.name.toLowerCase());
        const wanted = { name: connection.name, subscriptionId: connection.subscriptionId, ...(connection.resourceGroup === undefined ? {} : { resourceGroup: connection.resourceGroup }) };
        return observed ? { ...wanted, observed } : wanted;
      }),
    });
  }
}

function pairKey(issuer: string, subject: string): string {
  return `${issuer}|${subject}`;
}

function sameProject(reference: { id: string; name: string }, project: { id: string; name: string }): boolean {
  return (reference.id !== '' && reference.id.toLowerCase() === project.id.toLowerCase()) || (reference.id === '' && sameName(reference.name, project.name));
}

function refOf(identity: ObservedIdentity): { subscriptionId: string; resourceGroup: string; name: string } {
  const match = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.managedidentity\/userassignedidentities\/([^/]+)$/i.exec(identity.identity.id);
  return match ? { subscriptionId: match[1]!, resourceGroup: match[2]!, name: match[3]! } : { subscriptionId: '', resourceGroup: '', name: identity.identity.name };
}
