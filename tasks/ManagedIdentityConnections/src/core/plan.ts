// plan(desired, observed): what to write so that the world matches the spec, and what is wrong that writing
// cannot fix. PURE — no ports, no clock, no randomness — so that every decision the task makes can be tested
// from two literals, and so that `plan`, `provision` and `verify` agree by construction on what "drift" is.
//
// Rules that shape everything below:
// - Nothing is ever deleted; there are no delete actions. Things outside the spec are left alone.
// - A connection's issuer and subject are never computed: they are read from the connection, or, for a
//   connection that does not exist yet, read back after creating it (a Resolvable pointing at that action).
// - Every action names the actions it needs (dependsOn), so apply can run each environment as a DAG.
// - Problems that block writing are findings of severity error; the run writes nothing when any exists.
import { problem, type ErrorCode } from '../errors';
import { authorizationWritesAllowed, federatedCredentialLimit } from './guardrails';
import {
  fromAction,
  isGrant,
  isWrite,
  known,
  roleKey,
  tokenExchangeAudience,
  type Action,
  type ActionId,
  type AssignRoleAction,
  type ConnectionChange,
  type ConnectionDefinitionPlan,
  type DesiredConnection,
  type DesiredEnvironment,
  type DesiredState,
  type EnvironmentPlan,
  type FederatedCredential,
  type Finding,
  type ObservedIdentity,
  type ObservedWorld,
  type PlanSettings,
  type Plan,
  type Resolvable,
  type ServiceConnection,
  type Severity,
  type SpecOrigin,
} from './model';
import { federatedCredentialName, identityKey, normalizeLocation, roleDefinitionGuidOf, roleDefinitionIdFor, sameName } from './names';
import { isWithinScope, normalizeScope, parseScope, resourceGroupScope, subscriptionScope } from './scopes';

export function plan(desired: DesiredState, observed: ObservedWorld): Plan {
  const environments = desired.environments.map((environment) => planEnvironment(environment, observed, desired.settings));
  const actions = environments.flatMap((environment) => environment.actions);
  return { environments, changesPresent: actions.some(isWrite), permissionsBroadened: actions.some(isGrant) };
}

/**
 * What verify runs: a test of every connection that exists now (as observed, whatever drift the full plan
 * found), without dependencies, and nothing else.
 */
export function verificationPlan(full: Plan): Plan {
  return {
    environments: full.environments.map((environment) => ({
      ...environment,
      actions: environment.actions.flatMap((action) => {
        if (action.kind !== 'testConnection') return [];
        const observed = environment.connections.find((snapshot) => snapshot.name === action.connectionName)?.observed;
        return observed ? [{ ...action, dependsOn: [], connection: known(observed) }] : [];
      }),
    })),
    changesPresent: false,
    permissionsBroadened: false,
  };
}

function planEnvironment(environment: DesiredEnvironment, observed: ObservedWorld, settings: PlanSettings): EnvironmentPlan {
  const planner = new EnvironmentPlanner(environment, observed, settings);
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
  private readonly permissionActions: Action[] = [];
  private readonly testActions: Action[] = [];
  private readonly findings: Finding[] = [];
  private readonly current: ObservedIdentity | undefined;
  /** Set when the identity is created: everything that needs its ids reads them from this action. */
  private createIdentityId: ActionId | undefined;
  private readonly snapshots: { name: string; observed?: ServiceConnection }[] = [];

  constructor(
    private readonly environment: DesiredEnvironment,
    private readonly observed: ObservedWorld,
    private readonly settings: PlanSettings,
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
        tags: desired.tags,
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
    const { merged, changed } = mergeTags(identity.tags, desired.tags);
    if (Object.keys(changed).length > 0) {
      this.identityActions.push({
        kind: 'updateIdentityTags',
        id: this.id('identity-tags'),
        environment: this.name,
        reason: `Tags to add or change on identity ${ref.name}: ${Object.entries(changed).map(([key, value]) => `${key}=${value}`).join(', ')} (existing tags are kept).`,
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
        description: `Managed by the ManagedIdentityConnections task for environment ${this.name}.`,
      });
    }
  }

  // ——— Connections and what hangs off them ———

  planConnection(connection: DesiredConnection): void {
    const existing = this.observed.connections.get(connection.name.toLowerCase());
    // A same-named connection that is not ours is not reported as ours (outputs, summary).
    const ours = existing && !existing.readerStub && whyNotManageable(existing) === undefined ? existing : undefined;
    this.snapshots.push(ours ? { name: connection.name, observed: ours } : { name: connection.name });
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
    this.planAuthorization(connection, existing, connectionId, afterCreate);
    this.planSharing(connection, existing, connectionId, afterCreate);

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

  private planAuthorization(connection: DesiredConnection, existing: ServiceConnection | undefined, connectionId: Resolvable<string>, dependsOn: ActionId[]): void {
    const { authorize } = connection;
    const verificationRun = this.settings.verificationRunPipelineId;
    if (authorize.kind === 'none' && verificationRun === undefined) return;
    const permissions = (existing && this.observed.pipelinePermissions.get(existing.id.toLowerCase())) ?? { allPipelines: false, pipelineIds: [] };
    if (permissions.allPipelines) return; // everything is authorized already; the task never narrows
    const base = { id: this.id(`authorize:${connection.name}`), environment: this.name, dependsOn, connectionName: connection.name, connectionId } as const;
    if (authorize.kind === 'all') {
      this.permissionActions.push({ ...base, kind: 'authorizePipelines', reason: `authorize: all, and not every pipeline may use connection ${connection.name} yet.`, allPipelines: true, pipelineIds: [] });
      return;
    }
    let wanted: number[] = [];
    if (authorize.kind === 'current') {
      if (this.settings.currentPipelineId === undefined) {
        this.find('warning', 'MIC409', `authorize: current for connection ${connection.name}, but this is not a pipeline run; no pipeline is authorized.`, connection.origin, 'authorize', connection.name);
      } else wanted = [this.settings.currentPipelineId];
    } else if (authorize.kind === 'pipelines') wanted = [...authorize.pipelineIds];
    // The verification run is this pipeline again; Azure Pipelines refuses to start a run that names a
    // connection its pipeline may not use, so the pipeline needs every connection, even `authorize: none`.
    const forVerificationRun = verificationRun !== undefined && !wanted.includes(verificationRun) ? verificationRun : undefined;
    if (forVerificationRun !== undefined) wanted.push(forVerificationRun);
    const missing = wanted.filter((pipelineId) => !permissions.pipelineIds.includes(pipelineId));
    if (missing.length === 0) return;
    const why = authorize.kind === 'current' ? ' (the pipeline running this task)' : '';
    const verificationWhy = forVerificationRun !== undefined && missing.includes(forVerificationRun) ? `; pipeline ${forVerificationRun} runs this task and queues the verification run, which must be able to use it` : '';
    this.permissionActions.push({
      ...base,
      kind: 'authorizePipelines',
      reason: `Pipeline${missing.length > 1 ? 's' : ''} ${missing.join(', ')} may not use connection ${connection.name} yet${why}${verificationWhy}.`,
      allPipelines: false,
      pipelineIds: missing,
      ...(verificationWhy ? { forVerificationRun } : {}),
    });
  }

  private planSharing(connection: DesiredConnection, existing: ServiceConnection | undefined, connectionId: Resolvable<string>, dependsOn: ActionId[]): void {
    if (connection.shareWith.length === 0) return;
    const references = existing?.projectReferences ?? [this.settings.project];
    const missing = [];
    for (const name of connection.shareWith) {
      const project = this.observed.projects.get(name.toLowerCase());
      if (!project) {
        this.find('error', 'MIC406', `Project ${JSON.stringify(name)} (shareWith of connection ${connection.name}) was not found.`, connection.origin, 'shareWith', connection.name);
        continue;
      }
      if (!references.some((reference) => reference.id.toLowerCase() === project.id.toLowerCase() || sameName(reference.name, project.name))) missing.push(project);
    }
    if (missing.length === 0) return;
    this.permissionActions.push({
      kind: 'shareConnection',
      id: this.id(`share:${connection.name}`),
      environment: this.name,
      reason: `Connection ${connection.name} is not yet shared with ${missing.map((project) => project.name).join(', ')}.`,
      dependsOn,
      connectionName: connection.name,
      connectionId,
      projects: missing,
    });
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
      actions: [...this.identityActions, ...this.connectionActions, ...this.credentialActions, ...this.roleActions, ...this.permissionActions, ...this.testActions],
      findings: this.findings,
    };
  }
}

/** Why a connection with our name is not ours to change, or undefined when it is. */
export function whyNotManageable(connection: ServiceConnection): string | undefined {
  if (connection.type.toLowerCase() !== 'azurerm') return `is of type ${connection.type}, not Azure Resource Manager`;
  if (connection.authorizationScheme.toLowerCase() !== 'workloadidentityfederation') return `uses the ${connection.authorizationScheme} scheme, not workload identity federation`;
  // Automatic connections are backed by an app registration Azure DevOps manages; re-pointing one at our
  // identity would orphan that registration and fight Azure DevOps.
  if (connection.creationMode !== undefined && connection.creationMode.toLowerCase() !== 'manual') return `was created in ${connection.creationMode} mode (Azure DevOps manages its app registration)`;
  if (connection.scopeLevel !== undefined && connection.scopeLevel.toLowerCase() !== 'subscription') return `is scoped to a ${connection.scopeLevel}, not a subscription`;
  return undefined;
}

function hasExactAudience(credential: FederatedCredential): boolean {
  return credential.audiences.length === 1 && credential.audiences[0] === tokenExchangeAudience;
}

function isMoveToEntraIssuer(from: string, to: string): boolean {
  return /vstoken\.dev\.azure\.com/i.test(from) && /login\.microsoftonline\.com/i.test(to);
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
