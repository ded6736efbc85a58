// `npm run bench -- --calls`: the CPU one request costs the task's process, per kind of request (call-probe.ts),
// each measured in a fresh process against a freshly reset emulator without throttling, the median of --repeat runs.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { RunningEmulator } from '../../tests/emulator/emulator';
import { jsonLine } from '../../tests/emulator/json-line';
import { taskNode } from './run-task';

export const CALL_KINDS = ['http2', 'armWrite', 'devOpsTransport', 'devOpsRead', 'devOpsWrite'] as const;
export type CallKind = (typeof CALL_KINDS)[number];

export interface CallProbeResult {
  readonly kind: CallKind;
  readonly requests: number;
  readonly cpuMs: number;
  readonly cpuMsPerRequest: number;
}

/** About as many as a 50-environment run has in flight at once. */
export const CALL_PROBE_REQUESTS = 100;
/** Bursts per process: five spread the collections one burst meets or misses (call-probe.ts). */
export const CALL_PROBE_ROUNDS = 5;

/** CPU ms per request by kind; `requests` at once, `rounds` bursts per process. */
export type CallCosts = { readonly requests: number; readonly rounds: number } & Record<CallKind, number>;

const LABELS: Record<CallKind, string> = {
  http2: 'bare http2 PUT',
  armWrite: 'ARM write (arm-msi)',
  devOpsTransport: 'the same Azure DevOps read without azure-devops-node-api',
  devOpsRead: 'Azure DevOps read',
  devOpsWrite: 'Azure DevOps write',
};

/** One probe process: `rounds` bursts of `requests` requests of `kind` at once, against the emulator as it is now. */
export function runProbe(emulator: RunningEmulator, kind: CallKind, requests: number, rounds = 1): Promise<CallProbeResult> {
  const info = jsonLine(emulator);
  const env = {
    PATH: process.env.PATH ?? '',
    // What the task gets from the agent: the job's OIDC endpoint, and the emulator's certificate authority.
    SYSTEM_OIDCREQUESTURI: String(info.agentEnv.SYSTEM_OIDCREQUESTURI),
    NODE_EXTRA_CA_CERTS: info.caFile,
    MIC_CALL_PROBE: JSON.stringify(info),
  };
  return new Promise((resolve, reject) => {
    // Asynchronous: the emulator answering the probe runs in this process.
    execFile(taskNode(), [join(__dirname, 'call-probe.js'), kind, String(requests), String(rounds)], { env }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`the call probe (${kind}) failed: ${stderr || error.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as CallProbeResult);
    });
  });
}

export async function measureCallCosts(emulator: RunningEmulator, repeat: number, requests = CALL_PROBE_REQUESTS, rounds = CALL_PROBE_ROUNDS): Promise<CallCosts> {
  const costs: Partial<Record<CallKind, number>> = {};
  for (const kind of CALL_KINDS) {
    const runs: number[] = [];
    for (let attempt = 0; attempt < repeat; attempt++) {
      await emulator.reset();
      // CPU, not pacing: without throttling no request waits for ARM's write bucket or meets a 429.
      emulator.ctx.settings.throttle.enabled = false;
      runs.push((await runProbe(emulator, kind, requests, rounds)).cpuMsPerRequest);
    }
    costs[kind] = [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  }
  return { requests, rounds, ...(costs as Record<CallKind, number>) };
}

export function describeCallCosts(costs: CallCosts): string {
  const parts = CALL_KINDS.map((kind) => `${LABELS[kind]} ${costs[kind].toFixed(2)} ms`);
  return `CPU per request, ${costs.rounds} bursts of ${costs.requests} in a fresh process: ${parts.join('  ')}`;
}
