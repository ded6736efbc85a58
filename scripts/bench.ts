// `npm run bench [-- --json] [--latency-ms N] [--repeat N]`: how fast the bundled task provisions, against the emulator
// with a fixed latency added to every request, compared with the fastest any client could be.
//
// Scenarios: 1, 10 and 50 environments (one connection and two role assignments each), and one identity
// backing five connections. Each runs on a freshly reset emulator, then runs again to count the writes of
// an idempotent rerun; that pair is repeated (3 times by default) and the median run is reported. Figures, not pass/fail: these machines are shared and noisy (docs/performance.md).
//
// The lower bound is max(dependent round trips × latency, ARM's write-throttle bound):
//  - dependent round trips: the calls that must follow one another for one environment, in any client —
//    the job's OIDC token, its exchange for an ARM token, the read of the identity, then PUT identity →
//    POST connection (its answer carries the issuer and subject) → PUT federated credential →
//    TestConnection. Role assignments and pipeline permissions can run beside that chain. Environments are
//    independent, so the chain does not grow with their number; 7 round trips in all.
//  - the write-throttle bound: ARM's bucket per subscription × principal holds `capacity` writes and refills
//    at `refill` per second, so W writes in one subscription need at least (W − capacity) / refill seconds.
//    Federated credential writes are serialized per identity: with k connections on one identity, k writes
//    in a row, which lengthens the chain by k − 1.
// wallMs is measured from the task's first request to its exit; start-up (process start to first request)
// is reported apart as startupMs, with its own target.
//
// Beside each scenario, the https floor (lib/https-floor.ts): a bare Node https client making as many
// requests, with as many in flight as the task's largest burst (two role assignments and a connection per
// environment), against the same emulator and latency. The round-trip bound counts no CPU; the floor shows
// what one Node process on this machine needs for that many requests with no work at all.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../tests/emulator/emulator';
import { jsonLine } from '../tests/emulator/json-line';
import { measureHttpsFloor, type HttpsFloor } from './lib/https-floor';
import { bundledTaskBytes, runTask } from './lib/run-task';

const DEV = '22222222-0000-4000-8000-000000000001';
const PROD = '22222222-0000-4000-8000-000000000002';
const SIGN_IN_ROUND_TRIPS = 2;
const OBSERVE_ROUND_TRIPS = 1;
const WRITE_CHAIN_ROUND_TRIPS = 4;

interface Scenario {
  readonly name: string;
  readonly environments: number;
  readonly connectionsPerEnvironment: number;
}

interface Measured {
  readonly environments: number;
  readonly connectionsPerEnvironment: number;
  readonly wallMs: number;
  readonly boundMs: number;
  readonly ratio: number;
  readonly reads: number;
  readonly writes: number;
  readonly startupMs: number;
  readonly totalMs: number;
  readonly rerunWrites: number;
  readonly rerunWallMs: number;
  readonly httpsFloor: Pick<HttpsFloor, 'requests' | 'concurrency' | 'wallMs' | 'cpuMs'>;
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

function lowerBoundMs(scenario: Scenario, latencyMs: number, capacity: number, refillPerSecond: number): number {
  const chain = SIGN_IN_ROUND_TRIPS + OBSERVE_ROUND_TRIPS + WRITE_CHAIN_ROUND_TRIPS + (scenario.connectionsPerEnvironment - 1);
  let throttleMs = 0;
  for (const writes of armWritesBySubscription(scenario).values()) throttleMs = Math.max(throttleMs, (Math.max(0, writes - capacity) / refillPerSecond) * 1000);
  return Math.max(chain * latencyMs, throttleMs);
}

async function provision(emulator: RunningEmulator, specFile: string, concurrency: number) {
  const info = jsonLine(emulator);
  const before = emulator.ctx.requests.summary();
  const logStart = emulator.ctx.requests.log.length;
  const startedAt = Date.now();
  const run = await runTask({
    env: info.agentEnv,
    inputs: { command: 'provision', bootstrapConnection: info.bootstrapConnection.id, environmentsFile: specFile, concurrency: String(concurrency) },
  });
  const endedAt = startedAt + run.durationMs;
  if (run.result !== 'Succeeded') throw new Error(`the task did not succeed (${run.result}): ${run.resultMessage ?? run.stderr}`);
  // The log is in order of answers; the first request is the one that arrived first.
  const arrivals = emulator.ctx.requests.log.slice(logStart).map((entry) => Date.parse(entry.arrivedAt ?? entry.at));
  const firstAt = arrivals.length > 0 ? Math.min(...arrivals) : endedAt;
  const after = emulator.ctx.requests.summary();
  return { startupMs: firstAt - startedAt, wallMs: endedAt - firstAt, totalMs: run.durationMs, reads: after.reads - before.reads, writes: after.writes - before.writes };
}

type Provisioned = Awaited<ReturnType<typeof provision>>;

/** The item with the median value: one slow outlier on a shared machine should not decide the figure. */
function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  return [...items].sort((a, b) => value(a) - value(b))[Math.floor(items.length / 2)]!;
}

async function measure(emulator: RunningEmulator, scenario: Scenario, latencyMs: number, repeat: number): Promise<Measured> {
  const directory = mkdtempSync(join(tmpdir(), 'mic-bench-'));
  const specFile = join(directory, 'environments.json');
  writeFileSync(specFile, spec(scenario));
  const concurrency = Math.min(64, Math.max(16, scenario.environments));
  const firsts: Provisioned[] = [];
  const reruns: Provisioned[] = [];
  for (let attempt = 0; attempt < repeat; attempt++) {
    await emulator.reset();
    emulator.ctx.faults.set([{ id: 'latency', latencyMs }]);
    firsts.push(await provision(emulator, specFile, concurrency));
    reruns.push(await provision(emulator, specFile, concurrency));
  }
  rmSync(directory, { recursive: true, force: true });
  const first = medianBy(firsts, (run) => run.wallMs);
  const rerun = { ...medianBy(reruns, (run) => run.wallMs), writes: Math.max(...reruns.map((run) => run.writes)) };
  const { capacity, refillPerSecond } = emulator.ctx.settings.throttle.writes;
  const boundMs = lowerBoundMs(scenario, latencyMs, capacity, refillPerSecond);
  const info = jsonLine(emulator);
  const floor = await measureHttpsFloor(`${info.armEndpoint.replace(/\/$/, '')}/subscriptions/${DEV}?api-version=2022-12-01`, first.reads + first.writes, scenario.environments * 3, info.caFile);
  return {
    environments: scenario.environments,
    connectionsPerEnvironment: scenario.connectionsPerEnvironment,
    wallMs: Math.round(first.wallMs),
    boundMs: Math.round(boundMs),
    ratio: Math.round((first.wallMs / boundMs) * 100) / 100,
    reads: first.reads,
    writes: first.writes,
    startupMs: Math.round(first.startupMs),
    totalMs: Math.round(first.totalMs),
    rerunWrites: rerun.writes,
    rerunWallMs: Math.round(rerun.wallMs),
    httpsFloor: { requests: floor.requests, concurrency: floor.concurrency, wallMs: floor.wallMs, cpuMs: floor.cpuMs },
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const latencyIndex = args.indexOf('--latency-ms');
  const latencyMs = latencyIndex >= 0 ? Number(args[latencyIndex + 1]) : 50;
  if (!(latencyMs > 0)) throw new Error('--latency-ms needs a number > 0');
  const repeatIndex = args.indexOf('--repeat');
  const repeat = repeatIndex >= 0 ? Number(args[repeatIndex + 1]) : 3;
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new Error('--repeat needs a whole number ≥ 1');
  const scenarios: Scenario[] = [
    { name: '1 environment', environments: 1, connectionsPerEnvironment: 1 },
    { name: '10 environments', environments: 10, connectionsPerEnvironment: 1 },
    { name: '50 environments', environments: 50, connectionsPerEnvironment: 1 },
    { name: '1 identity, 5 connections', environments: 1, connectionsPerEnvironment: 5 },
  ];
  const emulator = await startEmulator();
  const results: Measured[] = [];
  try {
    for (const scenario of scenarios) {
      const result = await measure(emulator, scenario, latencyMs, repeat);
      results.push(result);
      if (!json) {
        console.log(
          `${scenario.name.padEnd(26)} wall ${String(result.wallMs).padStart(5)} ms  bound ${String(result.boundMs).padStart(5)} ms  ratio ${result.ratio.toFixed(2)}  ` +
            `reads ${result.reads}  writes ${result.writes}  rerun writes ${result.rerunWrites}  start-up ${result.startupMs} ms  ` +
            `https floor ${result.httpsFloor.wallMs} ms (CPU ${result.httpsFloor.cpuMs} ms)`,
        );
      }
    }
  } finally {
    await emulator.close();
  }
  const bundleBytes = bundledTaskBytes();
  const summary = {
    runs: results.map(({ environments, connectionsPerEnvironment, wallMs, boundMs, ratio, reads, writes, startupMs, totalMs, rerunWrites, httpsFloor }) => ({
      environments,
      connectionsPerEnvironment,
      wallMs,
      boundMs,
      ratio,
      reads,
      writes,
      startupMs,
      totalMs,
      rerunWrites,
      httpsFloor,
    })),
    rerunWrites: results.reduce((sum, result) => sum + result.rerunWrites, 0),
    bundleBytes,
    startupMs: medianBy(results, (result) => result.startupMs).startupMs,
    latencyMs,
    repeat,
  };
  if (!json) console.log(`bundle ${(bundleBytes / 1024 / 1024).toFixed(2)} MB, median start-up ${summary.startupMs} ms, latency ${latencyMs} ms per request`);
  console.log(JSON.stringify(summary));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exit(1);
});
