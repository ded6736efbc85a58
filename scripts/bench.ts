// `npm run bench [-- --json] [--latency-ms N] [--repeat N] [--scenarios uniform,mid,propagation,throttled] [--task-file F] [--peer] [--http1-only] [--cpu-prof DIR] [--calls]`:
// how fast the bundled task provisions against the emulator, compared with the fastest any client could be, and
// what it costs (CPU, connections, output). Figures, not pass/fail: these machines are shared and noisy
// (docs/performance.md has the method and the figures).
//
// Scenario groups:
//  - uniform: 1, 10 and 50 environments and one identity with five connections, the same latency on every request
//    (--latency-ms, 50 by default): a view of the task's own CPU cost, which dominates at that latency.
//  - mid: 1, 10 and 50 environments with the `mid` latency profile (scripts/lib/latency-profiles.ts: ARM PUT 1.5 s,
//    Azure DevOps POST 0.6 s, token 0.2 s, TestConnection 0.8 s), where the network dominates as in a real tenant.
//  - propagation: 10 environments whose credentials take 20 s and principals 10 s to replicate; what counts is
//    how long after the last credential became valid the run ended (propagationOvershootMs).
//  - throttled: 200 environments in one subscription: 800 ARM writes against a bucket of 200 refilled 10 per
//    second; the bound is the throttle's, and throttledShare says how many requests met a 429.
//
// The lower bound is max(the dependent chain's latency, ARM's write-throttle bound):
//  - the chain, for one environment and any client: the job's OIDC token → its exchange for an ARM token → the
//    read of the identity → PUT identity → POST connection (its answer carries the issuer and subject) → PUT
//    federated credential → TestConnection. Role assignments and pipeline permissions run beside it;
//    environments are independent. Each step costs the latency its route has under the profile; with k
//    connections on one identity the credential writes are serialized (k − 1 more PUTs).
//  - the write-throttle bound: W writes in one subscription need at least (W − capacity) / refill seconds.
// wallMs runs from the task's first request to its exit; start-up (process start to first request) is apart.
// --task-file runs another build of the task (an A/B of an optimisation: build both, bench each).
// MIC_TASK_NODE=PATH runs the task (and the --calls probe) on another Node, e.g. the agent's Node 24 handler's
// (`taskNodeVersion` in the JSON line).
// --http1-only starts the emulator without HTTP/2: the task's HTTP/2 transport falls back to HTTP/1.1 (ALPN), as
// against a front door that does not offer h2 — the A/B of the transport within one build.
// --cpu-prof DIR writes a V8 CPU profile of every task process into DIR (readable names with a build made with
// MIC_BUILD_UNMINIFIED=1; open it in Chrome DevTools or VS Code).
// --peer also runs the Azure CLI script a user would write for 10 environments (scripts/lib/az-peer.ts) with the
// uniform latency, and compares its wall with the task's 10-environment uniform run (`peer` in the JSON line).
// --calls also measures what one request costs the task's process, per kind (a bare http2 PUT, an ARM write, an
// Azure DevOps read with and without azure-devops-node-api, an Azure DevOps write), five bursts of 100 at once in a
// fresh process (scripts/lib/call-probe.ts; `calls` in the JSON line): steadier than a whole run's figure, for
// changes to the path every request takes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmulator, type RunningEmulator } from '../tests/emulator/emulator';
import { jsonLine } from '../tests/emulator/json-line';
import { FaultBook, type FaultRule } from '../tests/emulator/kernel/faults';
import { describePeer, peerSummary, runAzPeer, type PeerSummary } from './lib/az-peer';
import { describeCallCosts, measureCallCosts, type CallCosts } from './lib/call-costs';
import { latencyRules } from './lib/latency-profiles';
import { bundledTaskBytes, runTask, taskNode } from './lib/run-task';

const DEV = '22222222-0000-4000-8000-000000000001';
const PROD = '22222222-0000-4000-8000-000000000002';

type Group = 'uniform' | 'mid' | 'propagation' | 'throttled';
const GROUPS: readonly Group[] = ['uniform', 'mid', 'propagation', 'throttled'];

interface Scenario {
  readonly name: string;
  readonly group: Group;
  readonly environments: number;
  readonly connectionsPerEnvironment: number;
  /** `uniform` (the --latency-ms on every request) or a named profile. */
  readonly profile: 'uniform' | 'mid';
  readonly propagation?: { readonly ficPropagationMs: number; readonly principalReplicationMs: number };
}

interface Measured {
  readonly name: string;
  readonly environments: number;
  readonly connectionsPerEnvironment: number;
  readonly profile: string;
  readonly wallMs: number;
  readonly boundMs: number;
  readonly ratio: number;
  readonly reads: number;
  readonly writes: number;
  readonly requests: number;
  readonly throttled: number;
  readonly throttledShare: number;
  readonly startupMs: number;
  readonly totalMs: number;
  readonly cpuMs: number;
  readonly cpuMsPerEnvironment: number;
  readonly peakRssMb: number;
  readonly tlsConnections: number;
  /** Of the TLS connections, those that negotiated HTTP/2. */
  readonly http2Connections: number;
  readonly stdoutBytes: number;
  readonly propagationOvershootMs: number | null;
  readonly rerunWrites: number;
  readonly rerunWallMs: number;
}

function spec(scenario: Scenario): string {
  const environments = Array.from({ length: scenario.environments }, (_, index) => {
    const name = `env-${String(index + 1).padStart(3, '0')}`;
    const connections = Array.from({ length: scenario.connectionsPerEnvironment }, (_, c) => {
      const subscriptionId = c % 2 === 0 ? DEV : PROD;
      return { name: `${name}-c${c + 1}`, subscriptionId, authorize: 'current' };
    });
    // Two role assignments each; a connection verifies only if the identity has a role in its subscription.
    const targetsProd = connections.some((connection) => connection.subscriptionId === PROD);
    return {
      name,
      connections,
      roles: [
        { role: 'Contributor', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-dev` },
        targetsProd ? { role: 'Reader', scope: `/subscriptions/${PROD}` } : { role: 'Reader', scope: `/subscriptions/${DEV}` },
      ],
    };
  });
  return JSON.stringify({ defaults: { subscriptionId: DEV, identityResourceGroup: 'rg-identities', location: 'westeurope' }, environments });
}

/** ARM writes by subscription: identities, credentials and the first role in DEV, the second role where it is. */
function armWritesBySubscription(scenario: Scenario): Map<string, number> {
  const writes = new Map<string, number>();
  const add = (subscription: string, count: number) => writes.set(subscription, (writes.get(subscription) ?? 0) + count);
  const secondRoleIn = scenario.connectionsPerEnvironment > 1 ? PROD : DEV;
  add(DEV, scenario.environments * (1 + scenario.connectionsPerEnvironment + 1));
  add(secondRoleIn, scenario.environments);
  return writes;
}

/** The chain's steps as requests, so that each gets the latency the profile's rules give its route. */
const CHAIN: readonly { method: string; route: string; service: 'arm' | 'devops' | 'entra'; path: string }[] = [
  { method: 'POST', route: 'devops.oidctoken', service: 'devops', path: '/org/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken' },
  { method: 'POST', route: 'entra.token', service: 'entra', path: '/tenant/oauth2/v2.0/token' },
  { method: 'GET', route: 'arm.identities.get', service: 'arm', path: '/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id' },
  { method: 'PUT', route: 'arm.identities.put', service: 'arm', path: '/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id' },
  { method: 'POST', route: 'devops.endpoints.create', service: 'devops', path: '/org/_apis/serviceendpoint/endpoints' },
  { method: 'PUT', route: 'arm.fic.put', service: 'arm', path: '/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id/federatedidentitycredentials/c' },
  { method: 'POST', route: 'devops.endpointproxy', service: 'devops', path: '/org/project/_apis/serviceendpoint/endpointproxy' },
];

function latencyOf(rules: readonly FaultRule[], step: (typeof CHAIN)[number]): number {
  const book = new FaultBook();
  book.set(rules.map((rule) => ({ ...rule })));
  return book.decide(step).latencyMs;
}

function lowerBoundMs(scenario: Scenario, rules: readonly FaultRule[], capacity: number, refillPerSecond: number): number {
  const chain = CHAIN.reduce((sum, step) => sum + latencyOf(rules, step), 0) + (scenario.connectionsPerEnvironment - 1) * latencyOf(rules, CHAIN[5]!);
  let throttleMs = 0;
  for (const writes of armWritesBySubscription(scenario).values()) throttleMs = Math.max(throttleMs, (Math.max(0, writes - capacity) / refillPerSecond) * 1000);
  return Math.max(chain, throttleMs);
}

/**
 * With --cpu-prof: V8's sampling profiler from the first line to the exit, through the inspector (Node 20 does not
 * allow --cpu-prof in NODE_OPTIONS). The inspector session answers synchronously, so the exit handler can save it.
 */
const CPU_PROFILER = `if (process.env.MIC_BENCH_CPU_PROFILE_DIR) {
  const session = new (require('node:inspector').Session)();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
  session.post('Profiler.start');
  process.on('exit', () => session.post('Profiler.stop', (error, result) => {
    if (!error) require('node:fs').writeFileSync(require('node:path').join(process.env.MIC_BENCH_CPU_PROFILE_DIR, 'task-' + Date.now() + '-' + process.pid + '.cpuprofile'), JSON.stringify(result.profile));
  }));
}
`;

/**
 * Loaded into the task's process with --require: at exit, its CPU time (user + system) and peak resident memory,
 * as the kernel counted them — the task's own cost, apart from the emulator's in this process.
 */
const USAGE_PROBE = `process.on('exit', () => { const u = process.resourceUsage(); require('node:fs').writeFileSync(process.env.MIC_BENCH_USAGE_FILE, JSON.stringify({ cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, maxRssKb: u.maxRSS })); });\n${CPU_PROFILER}`;

let taskFile: string | undefined;
/** --cpu-prof DIR: every task process also writes a V8 CPU profile (.cpuprofile) there, for where its CPU goes. */
let cpuProfileDirectory: string | undefined;

async function provision(emulator: RunningEmulator, specFile: string, concurrency: number, directory: string) {
  const info = jsonLine(emulator);
  emulator.ctx.requests.reset();
  const usageFile = join(directory, 'usage.json');
  const startedAt = Date.now();
  const run = await runTask({
    ...(taskFile === undefined ? {} : { taskFile }),
    env: info.agentEnv,
    extraEnv: {
      NODE_OPTIONS: `--require ${join(directory, 'usage-probe.cjs')}`,
      MIC_BENCH_USAGE_FILE: usageFile,
      ...(cpuProfileDirectory ? { MIC_BENCH_CPU_PROFILE_DIR: cpuProfileDirectory } : {}),
    },
    inputs: { command: 'provision', bootstrapConnection: info.bootstrapConnection.id, environmentsFile: specFile, concurrency: String(concurrency) },
  });
  const endedAt = startedAt + run.durationMs;
  if (run.result !== 'Succeeded') throw new Error(`the task did not succeed (${run.result}): ${run.resultMessage ?? run.stderr}`);
  const log = emulator.ctx.requests.log;
  // The log is in order of answers; the first request is the one that arrived first.
  const arrivals = log.map((entry) => Date.parse(entry.arrivedAt ?? entry.at));
  const firstAt = arrivals.length > 0 ? Math.min(...arrivals) : endedAt;
  const credentialWrites = log.filter((entry) => entry.route === 'arm.fic.put' && entry.status < 300).map((entry) => Date.parse(entry.at));
  const summary = emulator.ctx.requests.summary();
  const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { cpuMs: number; maxRssKb: number };
  return {
    startupMs: firstAt - startedAt,
    wallMs: endedAt - firstAt,
    totalMs: run.durationMs,
    endedAt,
    reads: summary.reads,
    writes: summary.writes,
    throttled: log.filter((entry) => entry.status === 429).length,
    tlsConnections: summary.tlsConnections,
    http2Connections: summary.http2Connections,
    lastCredentialWriteAt: credentialWrites.length > 0 ? Math.max(...credentialWrites) : undefined,
    cpuMs: usage.cpuMs,
    maxRssKb: usage.maxRssKb,
    stdoutBytes: Buffer.byteLength(run.stdout, 'utf8'),
  };
}

type Provisioned = Awaited<ReturnType<typeof provision>>;

/** The item with the median value: one slow outlier on a shared machine should not decide the figure. */
function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  return [...items].sort((a, b) => value(a) - value(b))[Math.floor(items.length / 2)]!;
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

async function measure(emulator: RunningEmulator, scenario: Scenario, latencyMs: number, repeat: number): Promise<Measured> {
  const directory = mkdtempSync(join(tmpdir(), 'mic-bench-'));
  const specFile = join(directory, 'environments.json');
  writeFileSync(specFile, spec(scenario));
  writeFileSync(join(directory, 'usage-probe.cjs'), USAGE_PROBE);
  const concurrency = Math.min(64, Math.max(16, scenario.environments));
  const rules = scenario.profile === 'uniform' ? [{ id: 'latency', latencyMs }] : latencyRules(scenario.profile);
  const firsts: Provisioned[] = [];
  const reruns: Provisioned[] = [];
  try {
    for (let attempt = 0; attempt < repeat; attempt++) {
      await emulator.reset();
      emulator.ctx.faults.set(rules.map((rule) => ({ ...rule })));
      if (scenario.propagation) Object.assign(emulator.ctx.settings, scenario.propagation);
      firsts.push(await provision(emulator, specFile, concurrency, directory));
      reruns.push(await provision(emulator, specFile, concurrency, directory));
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  const overshoot = (run: Provisioned) =>
    scenario.propagation && run.lastCredentialWriteAt !== undefined ? run.endedAt - (run.lastCredentialWriteAt + scenario.propagation.ficPropagationMs) : undefined;
  const first = scenario.propagation ? medianBy(firsts, (run) => overshoot(run) ?? 0) : medianBy(firsts, (run) => run.wallMs);
  const rerun = medianBy(reruns, (run) => run.wallMs);
  const { capacity, refillPerSecond } = emulator.ctx.settings.throttle.writes;
  const boundMs = scenario.propagation ? 0 : lowerBoundMs(scenario, rules, capacity, refillPerSecond);
  const requests = first.reads + first.writes;
  const cpuMs = medianBy(firsts, (run) => run.cpuMs).cpuMs;
  return {
    name: scenario.name,
    environments: scenario.environments,
    connectionsPerEnvironment: scenario.connectionsPerEnvironment,
    profile: scenario.profile === 'uniform' ? `uniform ${latencyMs} ms` : scenario.profile,
    wallMs: Math.round(first.wallMs),
    boundMs: Math.round(boundMs),
    ratio: boundMs > 0 ? round(first.wallMs / boundMs, 2) : 0,
    reads: first.reads,
    writes: first.writes,
    requests,
    throttled: first.throttled,
    throttledShare: round(first.throttled / Math.max(1, requests), 3),
    startupMs: Math.round(first.startupMs),
    totalMs: Math.round(first.totalMs),
    cpuMs: Math.round(cpuMs),
    cpuMsPerEnvironment: round(cpuMs / scenario.environments, 1), // made marginal by withMarginalCpu
    peakRssMb: round(medianBy(firsts, (run) => run.maxRssKb).maxRssKb / 1024, 1),
    tlsConnections: first.tlsConnections,
    http2Connections: first.http2Connections,
    stdoutBytes: first.stdoutBytes,
    propagationOvershootMs: scenario.propagation ? Math.round(overshoot(first) ?? 0) : null,
    rerunWrites: Math.max(...reruns.map((run) => run.writes)),
    rerunWallMs: Math.round(rerun.wallMs),
  };
}

function scenarios(groups: readonly Group[]): Scenario[] {
  const all: Scenario[] = [
    { name: '1 environment', group: 'uniform', environments: 1, connectionsPerEnvironment: 1, profile: 'uniform' },
    { name: '10 environments', group: 'uniform', environments: 10, connectionsPerEnvironment: 1, profile: 'uniform' },
    { name: '50 environments', group: 'uniform', environments: 50, connectionsPerEnvironment: 1, profile: 'uniform' },
    { name: '1 identity, 5 connections', group: 'uniform', environments: 1, connectionsPerEnvironment: 5, profile: 'uniform' },
    { name: 'mid: 1 environment', group: 'mid', environments: 1, connectionsPerEnvironment: 1, profile: 'mid' },
    { name: 'mid: 10 environments', group: 'mid', environments: 10, connectionsPerEnvironment: 1, profile: 'mid' },
    { name: 'mid: 50 environments', group: 'mid', environments: 50, connectionsPerEnvironment: 1, profile: 'mid' },
    {
      name: 'propagation: 10 environments',
      group: 'propagation',
      environments: 10,
      connectionsPerEnvironment: 1,
      profile: 'uniform',
      propagation: { ficPropagationMs: 20_000, principalReplicationMs: 10_000 },
    },
    { name: 'throttled: 200 environments', group: 'throttled', environments: 200, connectionsPerEnvironment: 1, profile: 'uniform' },
  ];
  // The one-environment run is every run's CPU baseline (cpuMsPerEnvironment), so it always runs.
  return all.filter((scenario) => groups.includes(scenario.group) || scenario.name === '1 environment');
}

/**
 * What each further environment costs in CPU: (this run's − the one-environment run's of the same profile) /
 * (environments − 1), so that the start-up every run pays once does not hide in a per-environment figure.
 */
function withMarginalCpu(results: readonly Measured[]): Measured[] {
  return results.map((result) => {
    const profile = result.profile.startsWith('uniform') ? 'uniform' : result.profile;
    const base = results.find((candidate) => candidate.environments === 1 && candidate.connectionsPerEnvironment === 1 && candidate.profile.startsWith(profile));
    if (!base || result.environments === 1) return result;
    return { ...result, cpuMsPerEnvironment: round((result.cpuMs - base.cpuMs) / (result.environments - 1), 1) };
  });
}

function option(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

function describe(result: Measured): string {
  const parts = [
    `${result.name.padEnd(30)} wall ${String(result.wallMs).padStart(6)} ms`,
    result.propagationOvershootMs === null ? `bound ${String(result.boundMs).padStart(6)} ms  ratio ${result.ratio.toFixed(2)}` : `ended ${result.propagationOvershootMs} ms after the last credential became valid`,
    `requests ${result.requests} (429: ${result.throttled})`,
    `CPU ${result.cpuMs} ms (${result.cpuMsPerEnvironment}/env)`,
    `TLS ${result.tlsConnections} (h2 ${result.http2Connections})`,
    `stdout ${Math.round(result.stdoutBytes / 1024)} KB`,
    `RSS ${result.peakRssMb} MB`,
    `start-up ${result.startupMs} ms`,
    `rerun writes ${result.rerunWrites}`,
  ];
  return parts.join('  ');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const latencyMs = Number(option(args, '--latency-ms') ?? 50);
  if (!(latencyMs > 0)) throw new Error('--latency-ms needs a number > 0');
  const repeat = Number(option(args, '--repeat') ?? 3);
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new Error('--repeat needs a whole number ≥ 1');
  const groups = (option(args, '--scenarios') ?? GROUPS.join(',')).split(',').map((group) => group.trim());
  for (const group of groups) if (!(GROUPS as readonly string[]).includes(group)) throw new Error(`--scenarios takes a comma-separated list of ${GROUPS.join(', ')}; got ${group}`);
  taskFile = option(args, '--task-file');
  cpuProfileDirectory = option(args, '--cpu-prof');
  if (cpuProfileDirectory !== undefined) mkdirSync((cpuProfileDirectory = resolve(cpuProfileDirectory)), { recursive: true });
  const loadBefore = loadavg()[0]!;
  const http2 = !args.includes('--http1-only');
  const emulator = await startEmulator({ http2 });
  const measured: Measured[] = [];
  let peer: PeerSummary | null = null;
  let calls: CallCosts | null = null;
  try {
    for (const scenario of scenarios(groups as Group[])) measured.push(await measure(emulator, scenario, latencyMs, repeat));
    if (args.includes('--peer')) {
      const task = measured.find((result) => result.name === '10 environments');
      peer = peerSummary(await runAzPeer(emulator, { environments: 10, latencyMs }), task?.wallMs);
    }
    if (args.includes('--calls')) {
      // Without latency: the probe measures CPU, and its requests need not wait.
      await emulator.reset();
      calls = await measureCallCosts(emulator, repeat);
    }
  } finally {
    await emulator.close();
  }
  const results = withMarginalCpu(measured);
  if (!json) for (const result of results) console.log(describe(result));
  if (!json && peer) console.log(describePeer(peer));
  if (!json && calls) console.log(describeCallCosts(calls));
  const bundleBytes = bundledTaskBytes();
  const uniform = results.filter((result) => result.profile.startsWith('uniform') && result.propagationOvershootMs === null);
  const summary = {
    runs: results.map((result) => ({ ...result, httpsFloor: null })),
    rerunWrites: results.reduce((sum, result) => sum + result.rerunWrites, 0),
    bundleBytes,
    startupMs: results.length > 0 ? medianBy(results, (result) => result.startupMs).startupMs : null,
    latencyMs,
    repeat,
    // The 50-environment uniform run's, the figure the target is set for (null when it did not run).
    cpuMsPerEnvironment: uniform.find((result) => result.environments === 50)?.cpuMsPerEnvironment ?? null,
    loadAverage: round(loadBefore, 2),
    peer,
    // CPU per request by kind with --calls, else null.
    calls,
    // Whether the emulator offered HTTP/2 (false with --http1-only).
    emulatorHttp2: http2,
    // The Node the task ran on: this one, or MIC_TASK_NODE (the agent's Node24 handler, say).
    taskNodeVersion: execFileSync(taskNode(), ['--version'], { encoding: 'utf8' }).trim(),
  };
  if (!json) console.log(`bundle ${(bundleBytes / 1024 / 1024).toFixed(2)} MB, median start-up ${summary.startupMs} ms, load average ${summary.loadAverage} at the start, the task on Node ${summary.taskNodeVersion}`);
  console.log(JSON.stringify(summary));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
