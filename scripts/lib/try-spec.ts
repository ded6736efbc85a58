// `npm run try -- FILE` (and `managed-identity-connections try FILE`): a rehearsal of a rollout, offline.
// Checks the spec before anything else (its coded errors, no emulator), derives the world it assumes
// (spec-world.ts) or takes a hand-written one (--from-seed), starts the emulator in this process, and runs
// the bundled task exactly as the agent would (run-task.ts): plan → provision → verify → provision again,
// which must write nothing. Then it says what the real run needs that the spec takes for granted.
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { TextSink } from '../../tasks/ManagedIdentityConnections/src/adapters/console-platform';
import { formatTaskError } from '../../tasks/ManagedIdentityConnections/src/core/format-run';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { closestMatch } from '../../tasks/ManagedIdentityConnections/src/spec/did-you-mean';
import { checkSpecFile } from '../../tasks/ManagedIdentityConnections/src/spec/spec-file';
import { readSeedFile, startEmulator, type RunningEmulator } from '../../tests/emulator/emulator';
import { jsonLine } from '../../tests/emulator/json-line';
import type { CertificateAuthority } from '../../tests/emulator/kernel/certs';
import type { SeedDocument } from '../../tests/emulator/kernel/context';
import type { DevOpsSeed } from '../../tests/emulator/devops/seed';
import { isLatencyProfileName, latencyProfileNames, latencyRules, type LatencyProfileName } from './latency-profiles';
import { bundledTask, repoRoot, runTask, type TaskRun } from './run-task';
import { deriveSpecWorld, type RealRunNeeds, type SpecWorld } from './spec-world';

export interface TryOptions {
  /** The environments file, relative to `cwd`. */
  readonly specFile: string;
  readonly cwd: string;
  /** New federated credentials and identities take this long to propagate (the emulator's delays). */
  readonly propagationMs: number;
  readonly legacyIssuer: boolean;
  readonly latencyProfile: LatencyProfileName;
  /** Leave the emulator running afterwards and print its JSON line. */
  readonly keep: boolean;
  /** A hand-written seed (docs/emulator.md) instead of the world derived from the spec. */
  readonly fromSeed?: string;
  readonly allowPrivilegedRoles: boolean;
  /** The bundled task to run; dist/'s by default. */
  readonly taskFile?: string;
}

export interface TryIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Sign the emulator's certificate with this CA (tests: the test run's) instead of a fresh one. */
  readonly ca?: CertificateAuthority;
  /** With --keep: resolves when the emulator should stop (default: SIGINT or SIGTERM). */
  readonly untilStopped?: () => Promise<void>;
}

export type TryStep = 'plan' | 'provision' | 'verify' | 'rerun';

export interface TryOutcome {
  readonly exitCode: number;
  /** False when the spec (or the command line) was refused before any emulator started. */
  readonly emulatorStarted: boolean;
  readonly steps: ReadonlyArray<{ readonly step: TryStep; readonly run: TaskRun; readonly writes: number }>;
  readonly error?: TaskError;
  readonly world?: SpecWorld;
}

/** As the CLI's (docs/cli.md). */
const exitCodes = { succeeded: 0, failed: 1, usage: 2 } as const;

export const tryHelpText = `Usage: npm run try -- FILE [options]
       managed-identity-connections try FILE [options]

Rehearses the environments spec FILE offline: checks it, derives the emulator world it assumes (its
subscriptions, resource groups, projects and pipelines, and a bootstrap identity with the least rights of
docs/permissions.md), starts the emulator and runs the bundled task as the agent would: plan, provision,
verify, and provision again (which must write nothing). Then prints what the real run needs.

Options:
  --propagation-ms N           new federated credentials and identities propagate after N ms (default 0)
  --legacy-issuer              the organization puts new connections on the Azure DevOps (legacy) issuer
  --latency-profile NAME       added latency: ${latencyProfileNames.join(', ')} (default none)
  --keep                       leave the emulator running afterwards and print its JSON line; Ctrl+C stops it
  --from-seed FILE             run on this hand-written world (docs/emulator.md) instead of the derived one
  --allow-privileged-roles     as the task input allowPrivilegedRoles
  -h, --help                   this text

Exit codes: 0 every step succeeded, 1 the spec or a step failed, 2 invalid command line.
`;

const tryOptions = {
  'propagation-ms': { type: 'string' },
  'legacy-issuer': { type: 'boolean' },
  'latency-profile': { type: 'string' },
  keep: { type: 'boolean' },
  'from-seed': { type: 'string' },
  'allow-privileged-roles': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The options, or 'help'; throws a TaskError (MIC101, MIC102) naming the option. */
export function parseTryArguments(argv: readonly string[], cwd: string): TryOptions | 'help' {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof tryOptions; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: tryOptions, allowPositionals: true, strict: true });
  } catch (caught) {
    const option = /'(-{1,2}[^' ]+)/.exec(caught instanceof Error ? caught.message : '')?.[1] ?? '';
    const suggestion = closestMatch(option, Object.keys(tryOptions).map((name) => `--${name}`));
    return usageError('MIC102', `${caught instanceof Error ? caught.message.split('\n')[0] : String(caught)}${suggestion ? `; did you mean ${suggestion}?` : ''}`, option);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length === 0) return usageError('MIC101', 'Name the environments file to try: npm run try -- path/to/environments.yml.', 'FILE');
  if (positionals.length > 1) return usageError('MIC102', `Unexpected argument ${JSON.stringify(positionals[1])}: try takes one environments file.`, 'FILE');
  const propagation = values['propagation-ms'] ?? '0';
  if (!/^\d{1,7}$/.test(propagation)) return usageError('MIC102', `--propagation-ms ${JSON.stringify(propagation)} is not allowed; use a whole number of milliseconds from 0 to 9999999.`, '--propagation-ms');
  const profile = values['latency-profile'] ?? 'none';
  if (!isLatencyProfileName(profile)) return usageError('MIC102', `--latency-profile ${JSON.stringify(profile)} is not a profile; use one of ${latencyProfileNames.join(', ')}.`, '--latency-profile');
  return {
    specFile: positionals[0]!,
    cwd,
    propagationMs: Number(propagation),
    legacyIssuer: values['legacy-issuer'] === true,
    latencyProfile: profile,
    keep: values.keep === true,
    ...(values['from-seed'] === undefined ? {} : { fromSeed: values['from-seed'] }),
    allowPrivilegedRoles: values['allow-privileged-roles'] === true,
  };
}

function usageError(code: 'MIC101' | 'MIC102', message: string, field: string): never {
  throw new TaskError(code, message, { field, remediation: 'See npm run try -- --help (or the README, "Try it on your spec").' });
}

/** The command: arguments in, exit code out (the CLI's `try` and scripts/try.ts). */
export async function runTryCommand(argv: readonly string[], io: TryIo & { readonly cwd: string }): Promise<number> {
  let options: TryOptions | 'help';
  try {
    options = parseTryArguments(argv, io.cwd);
  } catch (caught) {
    io.stderr.write(`error: ${formatTaskError(caught as TaskError)}\n`);
    return exitCodes.usage;
  }
  if (options === 'help') {
    io.stdout.write(tryHelpText);
    return exitCodes.succeeded;
  }
  return (await trySpec(options, io)).exitCode;
}

function refused(error: TaskError, io: TryIo, extra: Partial<TryOutcome> = {}): TryOutcome {
  io.stderr.write(`error: ${formatTaskError(error)}\n`);
  return { exitCode: exitCodes.failed, emulatorStarted: false, steps: [], error, ...extra };
}

export async function trySpec(options: TryOptions, io: TryIo): Promise<TryOutcome> {
  const print = (line = '') => io.stdout.write(`${line}\n`);
  const spec = await checkSpecFile(options.specFile, options.cwd, { allowPrivilegedRoles: options.allowPrivilegedRoles, only: [] });
  if (!spec.ok) return refused(spec.error, io);
  if (!existsSync(options.taskFile ?? bundledTask)) return refused(new TaskError('MIC132', `There is no bundled task at ${relative(repoRoot, options.taskFile ?? bundledTask)}.`), io);

  let seed: SeedDocument;
  let world: SpecWorld | undefined;
  if (options.fromSeed) {
    try {
      seed = readSeedFile(resolve(options.cwd, options.fromSeed));
      const organization = (seed.devops as Partial<DevOpsSeed> | undefined)?.organization;
      if (options.legacyIssuer && organization) organization.issuerType = 'AzureDevOps';
    } catch (caught) {
      return refused(new TaskError('MIC130', `The seed ${options.fromSeed} cannot be read: ${caught instanceof Error ? caught.message : String(caught)}`, { field: '--from-seed', cause: caught }), io);
    }
  } else {
    world = deriveSpecWorld(spec.environments, { legacyIssuer: options.legacyIssuer });
    seed = world.seed;
  }

  let emulator: RunningEmulator;
  try {
    emulator = await startEmulator({
      seed,
      settings: {
        ficPropagationMs: options.propagationMs,
        principalReplicationMs: options.propagationMs,
        // An organization on the legacy issuer keeps new connections there even when the task asks for Entra.
        ...(options.legacyIssuer ? { devops: { honourRequestedIssuerType: false } } : {}),
      },
      ...(io.ca ? { ca: io.ca } : {}),
    });
  } catch (caught) {
    return refused(new TaskError('MIC130', `The emulator refused the world: ${caught instanceof Error ? caught.message : String(caught)}`, { field: options.fromSeed ? '--from-seed' : 'FILE', cause: caught }), io, world ? { world } : {});
  }
  try {
    return await rehearse(options, io, emulator, world, print);
  } finally {
    if (options.keep) {
      print(JSON.stringify(emulator.info));
      print('The emulator keeps running (--keep); Ctrl+C stops it.');
      await (io.untilStopped ?? untilSignal)();
    }
    await emulator.close();
  }
}

function untilSignal(): Promise<void> {
  return new Promise((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
}

async function rehearse(options: TryOptions, io: TryIo, emulator: RunningEmulator, world: SpecWorld | undefined, print: (line?: string) => void): Promise<TryOutcome> {
  let info;
  try {
    info = jsonLine(emulator);
  } catch (caught) {
    const error = new TaskError('MIC130', `The world has no bootstrap connection and job: ${caught instanceof Error ? caught.message : String(caught)}`, { field: '--from-seed', cause: caught });
    io.stderr.write(`error: ${formatTaskError(error)}\n`);
    return { exitCode: exitCodes.failed, emulatorStarted: true, steps: [], error, ...(world ? { world } : {}) };
  }
  emulator.ctx.faults.set(latencyRules(options.latencyProfile));
  const environmentsFile = resolve(options.cwd, options.specFile);
  print(`Rehearsing ${environmentsFile} on the offline emulator`);
  print(`  world          ${options.fromSeed ? `from ${options.fromSeed}` : `derived from the spec: ${describeWorld(world!)}`}`);
  print(`  Azure DevOps   ${info.collectionUri} (project ${info.project.name}), ${options.legacyIssuer ? 'legacy Azure DevOps issuer' : 'Entra ID issuer'}`);
  print(`  delays         propagation ${options.propagationMs} ms, latency profile ${options.latencyProfile}`);

  const steps: Array<{ step: TryStep; run: TaskRun; writes: number }> = [];
  const commands: ReadonlyArray<[TryStep, string]> = [['plan', 'plan'], ['provision', 'provision'], ['verify', 'verify'], ['rerun', 'provision']];
  for (const [step, command] of commands) {
    print(`\n━━ ${step === 'rerun' ? 'provision again: the unchanged spec must write nothing' : command} ━━`);
    const logStart = emulator.ctx.requests.log.length;
    const run = await runTask({
      ...(options.taskFile ? { taskFile: options.taskFile } : {}),
      env: info.agentEnv,
      inputs: { command, bootstrapConnection: info.bootstrapConnection.id, environmentsFile, allowPrivilegedRoles: String(options.allowPrivilegedRoles) },
      onLine: (line) => print(`  │ ${line}`),
    });
    const writes = emulator.ctx.requests.log.slice(logStart).filter((entry) => entry.kind === 'write');
    steps.push({ step, run, writes: writes.length });
    print(`  ${run.result ?? 'no result'} in ${(run.durationMs / 1000).toFixed(1)} s, ${writes.length} writes`);
    if (run.result !== 'Succeeded' && run.result !== 'SucceededWithIssues') {
      if (run.stderr.trim()) io.stderr.write(run.stderr);
      explainFailure(world?.needs, print);
      if (world) printNeeds(world.needs, print);
      return { exitCode: exitCodes.failed, emulatorStarted: true, steps, ...(world ? { world } : {}) };
    }
    if (step === 'rerun' && writes.length > 0) {
      const error = new TaskError('MIC131', `The second provision wrote ${writes.length} times: ${writes.map((entry) => `${entry.method} ${entry.route}`).join(', ')}.`);
      io.stderr.write(`error: ${formatTaskError(error)}\n`);
      return { exitCode: exitCodes.failed, emulatorStarted: true, steps, error, ...(world ? { world } : {}) };
    }
  }
  const summary = steps.find((entry) => entry.step === 'provision')?.run.summaries.at(-1);
  if (summary) print(`\n${summary.trim()}`);
  print('\nEvery step succeeded: plan, provision, verify, and a rerun that wrote nothing.');
  if (world) printNeeds(world.needs, print);
  return { exitCode: exitCodes.succeeded, emulatorStarted: true, steps, ...(world ? { world } : {}) };
}

function describeWorld(world: SpecWorld): string {
  const { needs } = world;
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return [count(needs.subscriptions.length, 'subscription'), count(needs.resourceGroups.length, 'resource group'), count(needs.projects.length, 'project'), count(needs.pipelines.length, 'pipeline')].join(', ');
}

function explainFailure(needs: RealRunNeeds | undefined, print: (line?: string) => void): void {
  if (!needs) return;
  if (needs.refusedRoles.length === 0 && needs.unreadableSubscriptions.length === 0) return;
  print('\nWhy the least-rights bootstrap of docs/permissions.md cannot do this:');
  for (const role of needs.refusedRoles) print(`  - ${role.environment}: role ${role.role} on ${role.scope}: ${role.reason}.`);
  for (const entry of needs.unreadableSubscriptions) {
    print(`  - connection ${entry.connection}: subscription ${entry.subscriptionId} holds neither an identity resource group nor a role scope of the spec, so the bootstrap identity has no right to read it (the connection stores its name); grant it a role there, e.g. Reader.`);
  }
}

function printNeeds(needs: RealRunNeeds, print: (line?: string) => void): void {
  print('\nWhat the real run needs that the spec takes for granted (docs/permissions.md):');
  for (const right of needs.rights) print(`  - ${right.side}: ${right.who} needs ${right.what} on ${right.where}${right.condition ? `, with the condition of docs/permissions.md (${right.condition})` : ''}`);
  print(`  - subscriptions, in the bootstrap identity's tenant: ${needs.subscriptions.join(', ')}`);
  print(`  - resource groups (the task creates none): ${needs.resourceGroups.join(', ')}`);
  if (needs.resources.length > 0) print(`  - resources the role scopes name (the emulator does not model resources): ${needs.resources.join(', ')}`);
  for (const project of needs.projects) print(`  - project ${project.name}: ${project.why}`);
  for (const pipeline of needs.pipelines) print(`  - pipeline ${pipeline.id}: ${pipeline.why}`);
}
