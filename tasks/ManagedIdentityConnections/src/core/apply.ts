// apply(plan): executes the planned actions and decides nothing. The only thing it works out is data that
// flows from earlier actions — the new identity's ids, the new connection's id, issuer and subject, and the
// role assignment name derived from the new principal id — exactly as the plan's Resolvables say.
//
// Scheduling: environments run in parallel, at most `concurrency` at a time. Within an environment the actions
// form a DAG (identity → connection → credential; identity → roles; connection → permissions, sharing;
// credential + roles → test) and each starts as soon as what it depends on has succeeded, so the critical
// path is as short as the dependencies allow. The first failure stops the environment (running actions
// finish, nothing new starts); other environments keep going.
//
// Federated credential writes are strictly one at a time per identity (a keyed mutex): ARM rejects concurrent
// credential writes under one identity with a 409. The spec forbids two environments sharing an identity, but
// one environment with several connections writes several credentials on its identity, and those actions
// have no dependency on each other — the DAG alone would run them together.
import { classifyTestFailure, TaskError, toTaskError, type Problem } from '../errors';
import { KeyedMutex, mapWithConcurrency } from './concurrency';
import {
  type Action,
  type ActionId,
  type ActionOutcome,
  type ApplyResult,
  type ConnectionDefinitionPlan,
  type EnvironmentOutcome,
  type EnvironmentPlan,
  type Identity,
  type Plan,
  type Resolvable,
  type ServiceConnection,
} from './model';
import { identityKey, roleAssignmentName } from './names';
import type { Ports } from '../ports';
import type { ConnectionDefinition } from '../ports/devops';

export type ApplyEvent =
  | { readonly type: 'started'; readonly action: Action }
  | { readonly type: 'succeeded'; readonly action: Action; readonly detail?: string }
  | { readonly type: 'failed'; readonly action: Action; readonly error: TaskError }
  | { readonly type: 'skipped'; readonly action: Action };

export interface ApplyOptions {
  readonly concurrency: number;
  /** Progress, for the run to turn into log lines. */
  readonly onEvent?: (event: ApplyEvent) => void;
}

type ApplyPorts = Pick<Ports, 'identities' | 'roles' | 'devOps'>;

type Produced = { readonly identity: Identity } | { readonly connection: ServiceConnection };

export async function apply(plan: Plan, ports: ApplyPorts, options: ApplyOptions): Promise<ApplyResult> {
  const credentialWrites = new KeyedMutex();
  const onEvent = options.onEvent ?? (() => undefined);
  const environments = await mapWithConcurrency(plan.environments, options.concurrency, (environment) =>
    new EnvironmentRun(environment, ports, credentialWrites, onEvent).run(),
  );
  return { environments };
}

class EnvironmentRun {
  private readonly produced = new Map<ActionId, Produced>();
  private readonly outcomes = new Map<ActionId, ActionOutcome>();
  private identity: Identity | undefined;
  private readonly connections = new Map<string, ServiceConnection>();
  private firstFailure: TaskError | undefined;

  constructor(
    private readonly plan: EnvironmentPlan,
    private readonly ports: ApplyPorts,
    private readonly credentialWrites: KeyedMutex,
    private readonly onEvent: (event: ApplyEvent) => void,
  ) {
    this.identity = plan.identity.observed;
    for (const snapshot of plan.connections) if (snapshot.observed) this.connections.set(snapshot.name, snapshot.observed);
  }

  async run(): Promise<EnvironmentOutcome> {
    const known = new Set(this.plan.actions.map((action) => action.id));
    const dangling = this.plan.actions.flatMap((action) => action.dependsOn.filter((id) => !known.has(id)).map((id) => `${action.id} → ${id}`));
    if (dangling.length > 0) throw new TaskError('MIC901', `The plan for ${this.plan.environment} depends on actions it does not contain: ${dangling.join(', ')}.`);

    const waiting = new Map(this.plan.actions.map((action) => [action.id, action]));
    const running = new Map<ActionId, Promise<void>>();
    for (;;) {
      if (this.firstFailure === undefined) {
        for (const action of [...waiting.values()]) {
          if (!action.dependsOn.every((id) => this.outcomes.get(id)?.status === 'succeeded')) continue;
          waiting.delete(action.id);
          running.set(action.id, this.execute(action).finally(() => running.delete(action.id)));
        }
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    if (this.firstFailure === undefined && waiting.size > 0) {
      throw new TaskError('MIC901', `The plan for ${this.plan.environment} has a dependency cycle among: ${[...waiting.keys()].join(', ')}.`);
    }
    for (const action of waiting.values()) {
      this.outcomes.set(action.id, { action, status: 'skipped' });
      this.onEvent({ type: 'skipped', action });
    }
    const error: Problem | undefined = this.firstFailure;
    return {
      environment: this.plan.environment,
      status: error === undefined ? 'succeeded' : 'failed',
      actions: this.plan.actions.map((action) => this.outcomes.get(action.id)!),
      ...(this.identity ? { identity: this.identity } : {}),
      connections: this.connections,
      ...(error ? { error } : {}),
    };
  }

  /** Never rejects: a failure is recorded as the action's outcome. */
  private async execute(action: Action): Promise<void> {
    this.onEvent({ type: 'started', action });
    try {
      const detail = await this.perform(action);
      this.outcomes.set(action.id, { action, status: 'succeeded', ...(detail === undefined ? {} : { detail }) });
      this.onEvent({ type: 'succeeded', action, ...(detail === undefined ? {} : { detail }) });
    } catch (caught) {
      // Ports translate service errors into TaskErrors; anything else reached us untranslated.
      const error = toTaskError(caught, 'MIC604');
      this.firstFailure ??= error;
      this.outcomes.set(action.id, { action, status: 'failed', error });
      this.onEvent({ type: 'failed', action, error });
    }
  }

  /** Returns a detail line for the outcome, if any. */
  private async perform(action: Action): Promise<string | undefined> {
    switch (action.kind) {
      case 'createIdentity':
      case 'updateIdentityTags': {
        const identity = await this.ports.identities.createOrUpdateIdentity(action.identity, { location: action.location, tags: action.tags });
        for (const field of ['clientId', 'principalId', 'tenantId'] as const) {
          if (!identity[field]) throw new TaskError('MIC902', `The identity client returned identity ${action.identity.name} without a ${field}.`);
        }
        this.identity = identity;
        this.produced.set(action.id, { identity });
        return `client id ${identity.clientId}`;
      }
      case 'createConnection':
      case 'updateConnection': {
        const definition = this.resolveDefinition(action.definition);
        const connection =
          action.kind === 'createConnection'
            ? await this.ports.devOps.createConnection(definition)
            : await this.ports.devOps.updateConnection(action.connectionId, definition);
        // The credential is only as right as these two values; without them there is nothing to trust.
        if (!connection.issuer || !connection.subject) {
          throw new TaskError('MIC407', `Service connection ${connection.name} came back without a workload identity federation issuer or subject.`);
        }
        this.connections.set(action.connectionName, connection);
        this.produced.set(action.id, { connection });
        return `id ${connection.id}`;
      }
      case 'switchConnectionIssuer': {
        const connection = await this.ports.devOps.switchToEntraIssuer(action.connectionId, action.connectionName);
        // The credential written next trusts what this answer says; an answer without the pair, or one still on
        // the old issuer (an organization that does not honour the request), leaves nothing to write.
        if (!connection.issuer || !connection.subject) {
          throw new TaskError('MIC407', `Service connection ${connection.name} came back without a workload identity federation issuer or subject.`);
        }
        if (connection.issuer === action.fromIssuer) {
          throw new TaskError('MIC445', `Azure DevOps kept service connection ${action.connectionName} on the issuer ${connection.issuer} although the task asked for the Entra issuer; its credentials are unchanged and it still signs in. Use the connection's Update button in the portal (Project settings → Service connections), then run migrate-issuer again to remove the old credential.`);
        }
        this.connections.set(action.connectionName, connection);
        this.produced.set(action.id, { connection });
        return `issuer ${connection.issuer}`;
      }
      case 'createFederatedCredential':
      case 'updateFederatedCredential': {
        const credential = { name: action.credentialName, issuer: this.resolve(action.issuer), subject: this.resolve(action.subject), audiences: [action.audience] };
        await this.credentialWrites.runExclusive(identityKey(action.identity), () => this.ports.identities.putFederatedCredential(action.identity, credential));
        return undefined;
      }
      case 'assignRole': {
        const principalId = this.resolve(action.principalId);
        const name = roleAssignmentName(action.scope, action.roleDefinitionGuid, principalId);
        const assigned = await this.ports.roles.createAssignment({
          scope: action.scope,
          name,
          roleDefinitionId: action.roleDefinitionId,
          principalId,
          principalType: 'ServicePrincipal',
          description: action.description,
        });
        // Someone else assigned the same role meanwhile, under another name: the state is what the spec asks.
        return assigned.name.toLowerCase() === name.toLowerCase() ? undefined : `already assigned as ${assigned.name}`;
      }
      case 'authorizePipelines': {
        const connectionId = this.resolve(action.connectionId);
        const authorization = action.allPipelines ? { allPipelines: true as const, pipelineIds: action.pipelineIds } : { pipelineIds: action.pipelineIds };
        if (action.project) await this.ports.devOps.authorizePipelines(connectionId, authorization, action.project);
        else await this.ports.devOps.authorizePipelines(connectionId, authorization);
        return undefined;
      }
      case 'shareConnection': {
        await this.ports.devOps.shareConnection(this.resolve(action.connectionId), action.connectionName, action.projects);
        return undefined;
      }
      case 'configureCheck': {
        const check = await this.ports.devOps.putCheck({ id: this.resolve(action.connectionId), name: action.connectionName }, action.check, action.existing?.id);
        return `check ${check.id}`;
      }
      case 'testConnection': {
        const connection = this.resolve(action.connection);
        const written = action.credentialWrittenThisRun === true;
        const result = await this.ports.devOps.testConnection(connection, { waitForRoles: action.waitForRoles, credentialWrittenThisRun: written });
        if (!result.ok) {
          const code = classifyTestFailure(result.message, written);
          const drift = code === 'MIC502' ? ' The federated credential was not written by this run, so this is drift, not propagation: run provision.' : '';
          throw new TaskError(code, `Verifying service connection ${action.connectionName} failed: ${result.message}${drift}`, { environment: this.plan.environment });
        }
        return result.message;
      }
      // Destructive actions (prune.ts): every port delete treats "already gone" as done, so a rerun after a
      // crash at any step finishes the job; what apply knows afterwards stops naming what is gone.
      case 'revokePipelines':
        await this.ports.devOps.revokePipelines(action.connectionId, { allPipelines: action.allPipelines, pipelineIds: action.pipelineIds });
        return undefined;
      case 'unshareConnection':
        await this.ports.devOps.deleteConnection(action.connectionId, action.connectionName, action.projects);
        return undefined;
      case 'deleteConnection':
        await this.ports.devOps.deleteConnection(action.connectionId, action.connectionName, [action.project]);
        this.connections.delete(action.connectionName);
        return undefined;
      case 'deleteFederatedCredential':
        await this.credentialWrites.runExclusive(identityKey(action.identity), () => this.ports.identities.deleteFederatedCredential(action.identity, action.credentialName));
        return undefined;
      case 'deleteRoleAssignment':
        await this.ports.roles.deleteAssignment(action.assignmentId);
        return undefined;
      case 'deleteIdentity':
        await this.ports.identities.deleteIdentity(action.identity);
        this.identity = undefined;
        return undefined;
    }
  }

  private resolveDefinition(definition: ConnectionDefinitionPlan): ConnectionDefinition {
    return { ...definition, tenantId: this.resolve(definition.tenantId), clientId: this.resolve(definition.clientId) };
  }

  private resolve<T>(value: Resolvable<T>): T {
    if ('known' in value) return value.known;
    const produced = this.produced.get(value.from);
    if (produced === undefined) throw new TaskError('MIC901', `Action ${value.from} produced nothing, but a later action needs its ${value.output}.`);
    if ('identity' in produced) {
      switch (value.output) {
        case 'identity.clientId':
          return produced.identity.clientId as T;
        case 'identity.principalId':
          return produced.identity.principalId as T;
        case 'identity.tenantId':
          return produced.identity.tenantId as T;
        default:
          break;
      }
    } else {
      switch (value.output) {
        case 'connection.id':
          return produced.connection.id as T;
        case 'connection.issuer':
          return produced.connection.issuer as T;
        case 'connection.subject':
          return produced.connection.subject as T;
        case 'connection':
          return produced.connection as T;
        default:
          break;
      }
    }
    throw new TaskError('MIC901', `Action ${value.from} does not produce ${value.output}.`);
  }
}
