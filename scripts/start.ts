// `npm start`: the main job, offline. Starts the emulator, runs the bundled task exactly as the agent would
// (the emulator's agentEnv plus INPUT_* values) to provision samples/environments.yml, prints its log and
// summary, then runs it a second time to show that nothing changes.
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../tests/emulator/emulator';
import { jsonLine } from '../tests/emulator/json-line';
import { repoRoot, runTask, type TaskRun } from './lib/run-task';

const environmentsFile = join(repoRoot, 'samples', 'environments.yml');

function counts(emulator: RunningEmulator): { reads: number; writes: number } {
  const { reads, writes } = emulator.ctx.requests.summary();
  return { reads, writes };
}

async function provision(emulator: RunningEmulator, title: string): Promise<TaskRun> {
  const info = jsonLine(emulator);
  console.log(`\n━━ ${title} ━━`);
  const before = counts(emulator);
  const run = await runTask({
    env: info.agentEnv,
    inputs: { command: 'provision', bootstrapConnection: info.bootstrapConnection.id, environmentsFile },
    onLine: (line) => console.log(`  │ ${line}`),
  });
  const after = counts(emulator);
  for (const summary of run.summaries) console.log(`\n${summary.trim().replace(/^/gm, '  ')}`);
  console.log(`\n  ${run.result ?? 'no result'} in ${(run.durationMs / 1000).toFixed(1)} s — ${after.writes - before.writes} writes, ${after.reads - before.reads} reads against the emulator.`);
  if (run.result !== 'Succeeded' && run.result !== 'SucceededWithIssues') {
    if (run.stderr.trim()) console.error(run.stderr);
    process.exitCode = 1;
  }
  return run;
}

async function main(): Promise<void> {
  // Delays like Entra's, scaled down, so the log shows the task waiting out a new credential's propagation.
  const emulator = await startEmulator({ settings: { ficPropagationMs: 2500, principalReplicationMs: 1500 } });
  try {
    const info = jsonLine(emulator);
    console.log('Managed Identity Connections — the main job on the offline emulator');
    console.log(`  Azure DevOps   ${info.collectionUri} (project ${info.project.name})`);
    console.log(`  Azure          ${info.armEndpoint} (tenant ${info.tenantId})`);
    console.log(`  bootstrap      service connection ${info.bootstrapConnection.name} (${info.bootstrapConnection.id})`);
    console.log(`  environments   ${environmentsFile}`);
    console.log(`  control API    ${info.controlUrl} (stopped when this script ends)`);

    await provision(emulator, 'First run: provision');
    if (process.exitCode) return;
    const beforeSecond = counts(emulator);
    await provision(emulator, 'Second run: the same spec again');
    const writes = counts(emulator).writes - beforeSecond.writes;
    console.log(writes === 0 ? '\nThe second run wrote nothing: the task is idempotent without a state file.' : `\nThe second run wrote ${writes} times; it should not have.`);
    if (writes !== 0) process.exitCode = 1;
  } finally {
    await emulator.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exit(1);
});
