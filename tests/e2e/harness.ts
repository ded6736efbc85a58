// The end-to-end harness: one in-process emulator per test file, the bundled task run as the agent runs it
// (scripts/lib/run-task.ts: a child `node dist/.../index.js` with the emulator's agentEnv and INPUT_*), and
// typed views of what the emulator saw and holds afterwards — the requests made during one run, and its
// identities, federated credentials, role assignments, service connections and pipeline permissions.
//
// Nothing here decides a result: tests read the emulator's state and request log and assert on them.
import { stringify } from 'yaml';
import { runTask, type TaskRun } from '../../scripts/lib/run-task';
import { DEFAULT_LOCATION, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP } from '../emulator/azure/default-world';
import { roleByName } from '../emulator/azure/role-definitions';
import type { EmulatorOptions, RunningEmulator } from '../emulator/emulator';
import { jsonLine, type EmulatorJsonLine } from '../emulator/json-line';
import type { RequestLogEntry } from '../emulator/kernel/context';
import { control, startTestEmulator } from '../helpers/emulator';

export const DEV = DEV_SUBSCRIPTION.id;
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
export const ARM_API = 'api-version=2022-04-01';

/** The built-in role's GUID, from the emulator's copy of Azure's role reference. */
export function roleGuid(roleName: string): string {
  const role = roleByName(roleName);
  if (!role) throw new Error(`the emulator knows no role ${roleName}`);
  return role.name;
}

// ---------------------------------------------------------------------------------------------------------
// Views of GET state (as ARM and Azure DevOps return the objects)

export interface ArmIdentity {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  readonly tags: Record<string, string>;
  readonly properties: { readonly clientId: string; readonly principalId: string; readonly tenantId: string };
}

export interface ArmFederatedCredential {
  readonly id: string;
  readonly name: string;
  readonly properties: { readonly issuer: string; readonly subject: string; readonly audiences: readonly string[] };
}

export interface ArmRoleAssignment {
  readonly id: string;
  readonly name: string;
  readonly properties: { readonly roleDefinitionId: string; readonly principalId: string; readonly principalType: string; readonly scope: string };
}

export interface ServiceEndpointView {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly url: string;
  readonly description: string;
  readonly data: Readonly<Record<string, string>>;
  readonly authorization: { readonly scheme: string; readonly parameters: Readonly<Record<string, string>> };
  readonly isDisabled: boolean;
  readonly isReady: boolean;
  readonly createdBy: { readonly id: string; readonly displayName: string };
  readonly serviceEndpointProjectReferences: readonly { readonly projectReference: { readonly id: string; readonly name: string }; readonly name: string }[];
}

export interface PipelinePermissionView {
  readonly project: string;
  readonly resource: { readonly type: string; readonly id: string };
  readonly allPipelines?: { readonly authorized: boolean } | null;
  readonly pipelines: readonly { readonly id: number; readonly authorized: boolean }[];
}

/** A pipeline run as the Pipelines runs API returns it, plus the ids of its simulated jobs. */
export interface PipelineRunView {
  readonly id: number;
  readonly name: string;
  readonly state: 'inProgress' | 'canceling' | 'completed';
  readonly result?: 'succeeded' | 'failed' | 'canceled';
  readonly url: string;
  readonly _links: { readonly web: { readonly href: string } };
  readonly pipeline: { readonly id: number; readonly name: string };
  readonly templateParameters: Readonly<Record<string, string>>;
  readonly resources: { readonly repositories: { readonly self: { readonly refName: string } } };
  readonly jobIds: readonly string[];
}

export interface WorldState {
  readonly identities: readonly ArmIdentity[];
  readonly federatedIdentityCredentials: readonly ArmFederatedCredential[];
  readonly roleAssignments: readonly ArmRoleAssignment[];
  readonly serviceEndpoints: readonly ServiceEndpointView[];
  readonly pipelinePermissions: readonly PipelinePermissionView[];
  readonly pipelineRuns: readonly PipelineRunView[];
}

// ---------------------------------------------------------------------------------------------------------
// One run of the task and what the emulator saw during it

/** One problem as the task logged it: `MIC115 (environments[0]…, line 9, column 25): message Fix: …`. */
export interface LoggedProblem {
  readonly code: string;
  readonly field?: string;
  readonly environment?: string;
  readonly line?: number;
  readonly text: string;
}

export interface MicRun extends TaskRun {
  /** Every request the emulator received while the task ran, in order. */
  readonly requests: readonly RequestLogEntry[];
  readonly writes: readonly RequestLogEntry[];
  /** Every MICnnn problem in the task's error issues (aggregates expanded; the result message left out). */
  readonly problems: readonly LoggedProblem[];
}

export type Inputs = Readonly<Record<string, string | undefined>>;

export interface RunOptions {
  /** Extra variables for the child (test instrumentation, e.g. NODE_OPTIONS); merged over agentEnv. */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Another job's agent environment instead of the bootstrap job's. */
  readonly agentEnv?: Readonly<Record<string, string>>;
  /** Receives the task's kill switch (SIGKILL) as soon as it runs. */
  readonly onSpawn?: (kill: () => void) => void;
}

const PROBLEM = /^\s*(?:- )?(MIC\d{3})(?: \((.*?)\))?: (.*)$/;

function parseProblems(errors: readonly string[]): LoggedProblem[] {
  const problems: LoggedProblem[] = [];
  for (const line of errors.flatMap((error) => error.split(/\r?\n/))) {
    const match = PROBLEM.exec(line);
    if (!match) continue;
    let field: string | undefined;
    let environment: string | undefined;
    let lineNumber: number | undefined;
    for (const part of (match[2] ?? '').split(', ').filter(Boolean)) {
      if (part.startsWith('environment ')) environment = part.slice('environment '.length);
      else if (/^line \d+$/.test(part)) lineNumber = Number(part.slice('line '.length));
      else if (!/^column \d+$/.test(part)) field = part;
    }
    problems.push({
      code: match[1]!,
      text: match[3]!,
      ...(field === undefined ? {} : { field }),
      ...(environment === undefined ? {} : { environment }),
      ...(lineNumber === undefined ? {} : { line: lineNumber }),
    });
  }
  return problems;
}

/** A spec with the default world's identity defaults, as YAML text. */
export function specText(environments: readonly object[], defaults: object = {}): string {
  return stringify({
    defaults: { subscriptionId: DEV, identityResourceGroup: IDENTITY_RESOURCE_GROUP, location: DEFAULT_LOCATION, ...defaults },
    environments,
  });
}

/** The environment most tests provision: identity id-ado-dev, connection app-dev shared with Apps, two roles. */
export const devEnvironment = {
  name: 'dev',
  connections: [{ name: 'app-dev', shareWith: ['Apps'] }],
  roles: [
    { role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-dev` },
    { role: 'Reader', scope: `/subscriptions/${DEV}` },
  ],
};

// ---------------------------------------------------------------------------------------------------------
// The world of one test file

export class E2eWorld {
  private running: RunningEmulator | undefined;

  get emulator(): RunningEmulator {
    if (!this.running) throw new Error('the emulator is not running (use e2eWorld() inside describe)');
    return this.running;
  }

  /** Re-read after every reset: the job token and the agent's temp folder change with it. */
  get info(): EmulatorJsonLine {
    return jsonLine(this.emulator);
  }

  async start(options: EmulatorOptions = {}): Promise<void> {
    this.running = await startTestEmulator(options);
  }

  async close(): Promise<void> {
    await this.running?.close();
    this.running = undefined;
  }

  reset(): Promise<void> {
    return this.emulator.reset();
  }

  state(): WorldState {
    return this.emulator.state() as unknown as WorldState;
  }

  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    return control<T>(this.emulator, method, path, body);
  }

  /** A trusted ARM call (the way an operator with full rights changes the world out of band): no auth, no faults, not counted. */
  async armAsSystem(method: string, path: string, body?: object): Promise<{ status: number; body: unknown }> {
    const response = await this.emulator.ctx.internalFetch({
      method,
      path,
      system: true,
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    });
    return { status: response.status, body: response.body };
  }

  /** Runs the bundled task with the bootstrap job's agentEnv; `command` defaults to provision. */
  async run(inputs: Inputs, options: RunOptions = {}): Promise<MicRun> {
    const info = this.info;
    const all: Record<string, string> = { command: 'provision', bootstrapConnection: info.bootstrapConnection.id };
    for (const [name, value] of Object.entries(inputs)) {
      if (value === undefined) delete all[name];
      else all[name] = value;
    }
    const log = this.emulator.ctx.requests.log;
    const first = log.length;
    const run = await runTask({ env: options.agentEnv ?? info.agentEnv, inputs: all, ...(options.extraEnv ? { extraEnv: options.extraEnv } : {}), ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}) });
    // The agent prints the task's stderr into the log as it does stdout (docs/architecture.md, "Logging commands
    // and the log"): no run of any command writes there, under Node 20 or, in CI, Node 24 (MIC_TASK_NODE).
    if (run.stderr !== '') throw new Error(`the task wrote to stderr:\n${run.stderr}\n${run.log.slice(-20).join('\n')}`);
    const requests = log.slice(first);
    // setResult(Failed, message) also logs the result message as an error issue: not a problem of its own.
    const errors = run.errors.filter((error) => error !== run.resultMessage);
    return { ...run, requests, writes: requests.filter((entry) => entry.kind === 'write'), problems: parseProblems(errors) };
  }

  /** Azure DevOps' own TestConnection of a connection, asked by the test (as the build service). */
  async testConnection(connectionId: string): Promise<{ statusCode: string; errorMessage: string }> {
    const info = this.info;
    const response = await fetch(`${info.collectionUri}${info.project.id}/_apis/serviceendpoint/endpointproxy?endpointId=${connectionId}&api-version=7.1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.systemAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dataSourceDetails: { dataSourceName: 'TestConnection', parameters: {} }, resultTransformationDetails: {} }),
    });
    if (!response.ok) throw new Error(`TestConnection of ${connectionId} answered HTTP ${response.status}: ${await response.text()}`);
    return (await response.json()) as { statusCode: string; errorMessage: string };
  }
}

/**
 * Registers the hooks of one e2e file: an emulator for the whole file, reset before every test unless the
 * file arranges its world once (`resetBeforeEach: false`).
 */
export function e2eWorld(options: { resetBeforeEach?: boolean; emulator?: EmulatorOptions } = {}): E2eWorld {
  const world = new E2eWorld();
  before(async function () {
    this.timeout(20_000);
    await world.start(options.emulator);
  });
  after(() => world.close());
  if (options.resetBeforeEach !== false) beforeEach(() => world.reset());
  return world;
}

// ---------------------------------------------------------------------------------------------------------
// Finding things in a state

export function identityNamed(state: WorldState, name: string): ArmIdentity | undefined {
  return state.identities.find((identity) => identity.name === name);
}

export function credentialsOf(state: WorldState, identity: ArmIdentity): ArmFederatedCredential[] {
  const prefix = `${identity.id}/federatedIdentityCredentials/`.toLowerCase();
  return state.federatedIdentityCredentials.filter((credential) => credential.id.toLowerCase().startsWith(prefix));
}

export function assignmentsOf(state: WorldState, principalId: string): ArmRoleAssignment[] {
  return state.roleAssignments.filter((assignment) => assignment.properties.principalId === principalId);
}

export function connectionNamed(state: WorldState, name: string): ServiceEndpointView | undefined {
  return state.serviceEndpoints.find((endpoint) => endpoint.name.toLowerCase() === name.toLowerCase());
}

export function permissionsOf(state: WorldState, connectionId: string): PipelinePermissionView | undefined {
  return state.pipelinePermissions.find((permission) => permission.resource.type === 'endpoint' && permission.resource.id === connectionId);
}

/** Requests of one route (a prefix of the emulator's route names, e.g. `arm.fic`), in order. */
export function requestsTo(requests: readonly RequestLogEntry[], route: string): RequestLogEntry[] {
  return requests.filter((entry) => entry.route.startsWith(route));
}

export function statusesOf(requests: readonly RequestLogEntry[], route: string): number[] {
  return requestsTo(requests, route).map((entry) => entry.status);
}

/** `{route: count}` of the writes, for an exact "what was written" assertion. */
export function writeCounts(run: MicRun): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of run.writes) counts[entry.route] = (counts[entry.route] ?? 0) + 1;
  return counts;
}

/** The task logged that the connection's TestConnection succeeded (`[env] done: verify service connection …`). */
export function verifiedInLog(run: TaskRun, environment: string, connection: string): boolean {
  return run.log.some((line) => line.startsWith(`[${environment}] done: verify service connection ${connection} `) && /TestConnection succeeded/.test(line));
}

/** For assertion messages: what the task printed. */
export function transcript(run: TaskRun): string {
  return `result ${run.result ?? '(none)'}: ${run.resultMessage ?? ''}\n${run.log.join('\n')}\n${run.stderr}`;
}
