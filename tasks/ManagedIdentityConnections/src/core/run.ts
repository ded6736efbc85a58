// One run of the task: read the spec, observe, plan, then per command print (plan), apply (provision) or
// check (verify). Returns a typed result; the entry point maps it to setResult and logs its errors — run()
// itself never fails the task and never throws (anything unexpected becomes a MIC9xx error in the result).
//
//   plan       observe → plan → print; outputs changesPresent / permissionsBroadened; writes nothing
//   provision  observe → plan → apply the plan (which tests every connection once its chain is in place)
//   verify     observe → plan → fail on drift or a disabled / not-ready connection; test every existing
//              connection; writes nothing
//   teardown   observe → plan every owned object of the `only` environments away (prune.ts) → apply
//   migrate-issuer  the spec's (or the project's) connections from the Azure DevOps issuer to the Entra issuer
//              (migrate-issuer.ts, migrate-issuer-run.ts); audit is audit-run.ts
//   convert    service-principal-secret connections → workload identity on managed identities (convert-run.ts)
//
// Owned objects outside the spec (prune.ts) are warnings in plan and provision, drift in verify, and
// destructive actions with `prune` (docs/lifecycle.md).
//
// With queueVerificationRun, provision also authorizes the running pipeline on every connection (a planned
// grant like any other) and, once everything is applied and tested, queues that pipeline again
// (verification-run.ts). plan shows that grant (it queues nothing); verify ignores the setting.
//
// In every command: an invalid spec or any error finding means no write at all; output variables (ids per
// environment plus `environments` JSON) and a markdown summary are produced whenever the spec was valid.
import type { TaskConfig } from '../config';
import { TaskError, toTaskError, withEnvironment, type Problem } from '../errors';
import type { Ports } from '../ports';
import type { Platform } from '../ports/platform';
import { systemClock } from '../retry';
import { loadSpecText, selectEnvironments } from '../spec/load-spec';
import { specProblemsError } from '../spec/spec-file';
import { apply } from './apply';
import { legacyIssuerWarnings } from './legacy-issuer';
import { describeAction, formatFindingBody } from './format-plan';
import { groupedProgress, printPlan } from './run-output';
import { finalState, formatRunSummary, outputVariables, type SummaryInput } from './format-run';
import { allFindings, blockingFindings, isWrite, type ApplyResult, type BootstrapIdentityLookup, type DesiredState, type Plan, type PlanSettings } from './model';
import { observe } from './observe';
import { admitByPolicy, refusedRoles } from './policy-gate';
import { runAudit } from './audit-run';
import { runIssuerMigration } from './migrate-issuer-run';
import { runConvert } from './convert-run';
import { plan as makePlan, verificationPlan } from './plan';
import { redact } from './redact';
import { queueVerificationRun, type VerificationRunOutcome, type WaitClock } from './verification-run';

export type RunStatus = 'succeeded' | 'succeededWithIssues' | 'failed';

export interface RunResult {
  readonly status: RunStatus;
  /** One line for setResult. */
  readonly message: string;
  /** Every failure, already redacted; the entry point logs each (formatTaskError). */
  readonly errors: readonly TaskError[];
  /** Problems that did not fail the run (already logged as warnings). */
  readonly warnings: readonly Problem[];
  readonly plan?: Plan;
  /** Provision: what apply did. Verify: the connection tests. */
  readonly applied?: ApplyResult;
  /** Provision with queueVerificationRun: what became of the verification run. */
  readonly verificationRun?: VerificationRunOutcome;
}

export interface RunOptions {
  /** For waiting on the verification run; the system clock by default. */
  readonly clock?: WaitClock;
}

export async function run(config: TaskConfig, ports: Ports, options: RunOptions = {}): Promise<RunResult> {
  const secrets = [config.pipeline.accessToken?.reveal()].filter((value): value is string => value !== undefined && value !== '');
  for (const secret of secrets) ports.platform.setSecret(secret);
  const platform = redactingPlatform(ports.platform, secrets);
  const safePorts: Ports = { ...ports, platform };
  const scrub = (error: TaskError): TaskError => redactError(error, secrets);
  try {
    const result = await runCommand(config, safePorts, options.clock ?? systemClock);
    return { ...result, errors: result.errors.map(scrub) };
  } catch (caught) {
    const error = scrub(toTaskError(caught, 'MIC901'));
    return { status: 'failed', message: `${error.code}: ${error.message}`, errors: [error], warnings: [] };
  }
}

function describeBootstrapLookup(lookup: BootstrapIdentityLookup): string {
  switch (lookup.status) {
    case 'found':
      return `Escalation guard: the bootstrap identity is ${lookup.resourceId} (${lookup.source}).`;
    case 'absent':
      return `Escalation guard: ${lookup.reason}, so no role of the spec can reach the bootstrap identity.`;
    case 'unknown':
      return `Escalation guard: the bootstrap identity could not be located (${lookup.reason}).`;
  }
}

async function runCommand(config: TaskConfig, ports: Ports, clock: WaitClock): Promise<RunResult> {
  const { platform } = ports;
  if (config.command === 'audit') return runAudit(config, ports, config.environments.kind === 'none' ? undefined : await planOfSpec(config, ports));
  if (config.command === 'migrate-issuer' && config.lifecycle.migration.scope === 'project') return runIssuerMigration(config, ports, []);
  if (config.command === 'convert') {
    const specText = config.environments.kind === 'none' ? undefined : await readSpecText(config, platform);
    const converted = await runConvert(config, ports, specText, { dryRun: config.lifecycle.dryRun });
    return { status: converted.status, message: converted.message, errors: converted.errors, warnings: [] };
  }
  const mode = config.command;
  const currentPipelineId = runningPipelineId(config);
  // plan shows the grant provision will make for the verification run, so that an approver sees it (and
  // permissionsBroadened says so); only provision queues the run. verify writes nothing and ignores it.
  const showsVerificationRun = config.verificationRun.queue && (mode === 'provision' || mode === 'plan');
  const verificationRunPipelineId = showsVerificationRun ? currentPipelineId : undefined;
  if (config.verificationRun.queue && mode === 'verify') platform.info(`queueVerificationRun is ignored: only provision queues a verification run, and the command is ${mode}.`);
  if (config.verificationRun.queue && mode === 'plan') {
    platform.info(
      verificationRunPipelineId === undefined
        ? 'queueVerificationRun: this is not a pipeline run, so the plan cannot show the grant provision would make for the verification run.'
        : `queueVerificationRun: the plan includes authorizing pipeline ${verificationRunPipelineId} on every connection, which provision does before it queues the verification run.`,
    );
  }

  const text = await readSpecText(config, platform);
  // The whole spec first: an owned identity of an environment it no longer declares is one to prune.
  const whole = loadSpecText(text, { allowPrivilegedRoles: config.allowPrivilegedRoles, only: [] });
  const loaded = whole.ok ? selectEnvironments(whole.environments, config.only) : whole;
  if (!loaded.ok) {
    const error = specProblemsError(loaded.problems);
    return failed(`${error.code}: the environments spec is not valid.`, [error], []);
  }
  // Every environment of the spec, also those `only` leaves out: the escalation guard protects all their
  // identities, and the platform policy judges the whole spec.
  const allEnvironments = whole.ok ? whole.environments : loaded.environments;
  if (mode === 'migrate-issuer') return runIssuerMigration(config, ports, loaded.environments);
  const admitted = await admitByPolicy(config, platform, allEnvironments);
  if (!admitted.ok) return failed(`${admitted.error.code}: the platform policy refuses this spec; nothing was read or changed.`, [admitted.error], []);
  const desired: DesiredState = {
    environments: loaded.environments,
    specIdentities: allEnvironments.map((environment) => ({ environment: environment.name, ref: environment.identity.ref })),
    settings: {
      ...planSettings(config, currentPipelineId, verificationRunPipelineId),
      lifecycle: {
        // verify reports what prune would remove as drift; it never deletes.
        prune: config.lifecycle.prune && mode !== 'verify',
        teardown: mode === 'teardown',
        maxDeletions: config.lifecycle.maxDeletions,
        keepUsedWithinDays: config.lifecycle.keepConnectionsUsedWithinDays,
        deleteUsedConnections: config.lifecycle.deleteUsedConnections,
        now: new Date(clock.now()).toISOString(),
        specEnvironments: allEnvironments.map((environment) => environment.name),
        onlySelected: config.only.length > 0,
      },
    },
  };

  platform.info(`Reading ${desired.environments.length} environment${desired.environments.length === 1 ? '' : 's'} from Azure and Azure DevOps…`);
  const bootstrapIdentity = config.source === 'pipeline' ? { clientId: config.bootstrap.clientId, ...(config.bootstrap.identityResourceId === undefined ? {} : { resourceId: config.bootstrap.identityResourceId }) } : undefined;
  const observed = await observe(desired, ports, { concurrency: config.concurrency, ...(bootstrapIdentity ? { bootstrapIdentity } : {}) });
  const governance = [admitted.applied?.description, observed.bootstrapIdentity && describeBootstrapLookup(observed.bootstrapIdentity)].filter((line): line is string => line !== undefined);
  if (observed.bootstrapIdentity) platform.info(describeBootstrapLookup(observed.bootstrapIdentity));
  const policyRoles = refusedRoles(admitted.applied, desired.environments, observed.roleDefinitions);
  if (policyRoles) return failed(`${policyRoles.code}: the platform policy refuses roles of this spec; nothing was changed.`, [policyRoles], []);
  const plan = makePlan(desired, observed);
  printPlan(platform, plan);
  platform.setOutput('changesPresent', String(plan.changesPresent));
  platform.setOutput('permissionsBroadened', String(plan.permissionsBroadened));
  platform.setOutput('permissionsNarrowed', String(plan.permissionsNarrowed));

  const warnings = allFindings(plan).filter((finding) => finding.severity === 'warning');
  for (const warning of warnings) platform.warn(formatFindingBody(warning));
  const blocking = blockingFindings(plan);
  if (blocking.length > 0) {
    const error = TaskError.aggregate(blocking, `The plan found ${blocking.length} problems that must be fixed first; nothing was changed.`);
    publish(platform, { mode, plan, governance, errors: [error] });
    return failed(`${error.code}: nothing was changed; ${blocking.length} problem${blocking.length === 1 ? '' : 's'} must be fixed first.`, [error], warnings, plan);
  }

  switch (mode) {
    case 'plan': {
      publish(platform, { mode, plan, governance, errors: [] });
      const changes = plan.environments.flatMap((environment) => environment.actions.filter(isWrite)).length;
      return finish(plan.changesPresent ? `Plan: ${changes} change${changes === 1 ? '' : 's'} to apply.` : 'Plan: no changes; everything matches the spec.', [], warnings, plan);
    }
    case 'provision': {
      const applied = await apply(plan, ports, { concurrency: config.concurrency, onEvent: groupedProgress(platform, plan) });
      const legacy = legacyIssuerWarnings(applied);
      for (const warning of legacy) platform.warn(formatFindingBody(warning));
      const errors = applied.environments.flatMap((environment) => (environment.error ? [withEnvironment(environment.error, environment.environment)] : []));
      const failedNames = applied.environments.filter((environment) => environment.status === 'failed').map((environment) => environment.environment);
      const verificationRun =
        verificationRunPipelineId === undefined ? undefined : await afterProvision(ports, applied, failedNames, { pipelineId: verificationRunPipelineId, config, clock });
      if (verificationRun?.error) errors.push(verificationRun.error);
      publish(platform, { mode, plan, governance, applied, errors, ...(verificationRun ? { verificationRun } : {}) });
      const provisioned = provisionedSummary(plan, applied);
      const message =
        failedNames.length > 0
          ? `${failedNames.length} of ${applied.environments.length} environments failed: ${failedNames.join(', ')}.`
          : verificationRun?.error
            ? `${provisioned}, but the verification run did not succeed: ${verificationRun.error.code}.`
            : `${provisioned}${verificationRun?.run ? `; verification run ${verificationRun.run.name} ${verificationRun.status}` : ''}.`;
      const result = finish(message, errors, [...warnings, ...legacy], plan, applied);
      return verificationRun ? { ...result, verificationRun } : result;
    }
    case 'teardown':
      return teardown(config, ports, plan, warnings);
    case 'verify': {
      const errors: TaskError[] = [];
      const drift = plan.environments.flatMap((environment) => environment.actions.filter(isWrite));
      if (drift.length > 0) {
        errors.push(new TaskError('MIC502', `${drift.length} difference${drift.length === 1 ? '' : 's'} from the spec: ${drift.map((action) => `${action.environment}: ${describeAction(action)}`).join('; ')}.`));
      }
      // A disabled or broken connection is only a warning while provisioning (nothing to do about it), but
      // verify exists to say whether every connection works — and owned objects outside the spec are drift.
      for (const finding of warnings) if (finding.code === 'MIC402' || finding.code === 'MIC403' || finding.code === 'MIC530') errors.push(TaskError.fromProblem(finding));
      const verifying = verificationPlan(plan);
      const verified = await apply(verifying, ports, { concurrency: config.concurrency, onEvent: groupedProgress(platform, verifying) });
      for (const environment of verified.environments) if (environment.error) errors.push(withEnvironment(environment.error, environment.environment));
      publish(platform, { mode, plan, governance, verified, errors });
      const message = errors.length > 0 ? `Verification failed: ${errors.length} problem${errors.length === 1 ? '' : 's'}.` : `Verified ${plan.environments.length} environment${plan.environments.length === 1 ? '' : 's'}: no drift, every connection signs in.`;
      return finish(message, errors, warnings, plan, verified);
    }
  }
}

/** teardown: the plan's destructive actions, applied in teardown order; nothing is created or tested. */
async function teardown(config: TaskConfig, ports: Ports, plan: Plan, warnings: readonly Problem[]): Promise<RunResult> {
  const { platform } = ports;
  if (config.lifecycle.dryRun) {
    publish(platform, { mode: 'plan', plan, errors: [] });
    const deletions = plan.environments.flatMap((environment) => environment.actions.filter(isWrite)).length;
    return finish(`Teardown dry run: ${deletions} object${deletions === 1 ? '' : 's'} would be deleted or narrowed; nothing was changed.`, [], warnings, plan);
  }
  const applied = await apply(plan, ports, { concurrency: config.concurrency, onEvent: groupedProgress(platform, plan) });
  const errors = applied.environments.flatMap((environment) => (environment.error ? [withEnvironment(environment.error, environment.environment)] : []));
  publish(platform, { mode: 'teardown', plan, applied, errors });
  const done = applied.environments.flatMap((environment) => environment.actions).filter((outcome) => outcome.status === 'succeeded').length;
  const failedNames = applied.environments.filter((environment) => environment.status === 'failed').map((environment) => environment.environment);
  const message =
    failedNames.length > 0
      ? `Teardown failed in ${failedNames.join(', ')} after ${done} step${done === 1 ? '' : 's'}; run it again to finish (every step is safe to repeat).`
      : `Tore down ${applied.environments.length} environment${applied.environments.length === 1 ? '' : 's'}: ${done} object${done === 1 ? '' : 's'} deleted or narrowed.`;
  return finish(message, errors, warnings, plan, applied);
}

/**
 * The pipeline this run belongs to, for `authorize: current` and the verification run. A classic release
 * also has a System.DefinitionId, but of a release definition: no pipeline permission can name it.
 */
function planSettings(config: TaskConfig, currentPipelineId: number | undefined, verificationRunPipelineId: number | undefined): PlanSettings {
  return {
    project: config.pipeline.project,
    connectionUrl: config.cloud.armUrl,
    azureEnvironment: config.cloud.azureEnvironment,
    ...(currentPipelineId === undefined ? {} : { currentPipelineId }),
    ...(verificationRunPipelineId === undefined ? {} : { verificationRunPipelineId }),
    allowPrivilegedRoles: config.allowPrivilegedRoles,
  };
}

/** For the audit's drift column: the spec's plan, read and computed as `plan` would (nothing printed). */
async function planOfSpec(config: TaskConfig, ports: Ports): Promise<Plan> {
  const text = await readSpecText(config, ports.platform);
  const loaded = loadSpecText(text, { allowPrivilegedRoles: config.allowPrivilegedRoles, only: config.only });
  if (!loaded.ok) throw TaskError.aggregate(loaded.problems, `The environments spec has ${loaded.problems.length} problems; nothing was read.`);
  const desired: DesiredState = { environments: loaded.environments, settings: planSettings(config, runningPipelineId(config), undefined) };
  return makePlan(desired, await observe(desired, ports, { concurrency: config.concurrency }));
}

function runningPipelineId(config: TaskConfig): number | undefined {
  const { definitionId, hostType } = config.pipeline;
  return hostType === undefined || hostType.toLowerCase() === 'build' ? definitionId : undefined;
}

interface AfterProvision {
  readonly pipelineId: number;
  readonly config: TaskConfig;
  readonly clock: WaitClock;
}

/** Queue the verification run when everything was applied and tested and there is a connection to use. */
async function afterProvision(ports: Ports, applied: ApplyResult, failedNames: readonly string[], context: AfterProvision): Promise<VerificationRunOutcome> {
  const { platform } = ports;
  const notQueued = (reason: string): VerificationRunOutcome => {
    platform.info(`No verification run was queued: ${reason}`);
    return { status: 'notQueued', pipelineId: context.pipelineId, reason };
  };
  if (failedNames.length > 0) return notQueued(`provisioning failed in ${failedNames.join(', ')}; fix that and run again.`);
  const usable = applied.environments.flatMap((environment) => [...environment.connections.values()].filter((connection) => !connection.isDisabled));
  if (usable.length === 0) return notQueued('the selected environments have no enabled connection for it to use.');
  const { sourceBranch } = context.config.pipeline;
  return queueVerificationRun(ports, { pipelineId: context.pipelineId, ...(sourceBranch === undefined ? {} : { branch: sourceBranch }), settings: context.config.verificationRun }, context.clock);
}

async function readSpecText(config: TaskConfig, platform: Platform): Promise<string> {
  const source = config.environments;
  if (source.kind === 'inline') return source.text;
  if (source.kind === 'none') throw new TaskError('MIC103', 'Neither environments nor environmentsFile is set; give the environments spec inline or as a file.', { field: 'environments' });
  try {
    return await platform.readTextFile(source.path);
  } catch (caught) {
    const reason = caught instanceof Error ? caught.message : String(caught);
    throw new TaskError('MIC104', `The environments file ${source.path} cannot be read: ${reason}`, { field: 'environmentsFile', cause: caught });
  }
}

// Outputs and the summary are secondary: if publishing fails, say so and keep the run's real result.
function publish(platform: Platform, input: SummaryInput): void {
  try {
    for (const [name, value] of outputVariables(input.plan, finalState(input.plan, input.applied))) platform.setOutput(name, value);
    platform.uploadSummary(formatRunSummary(input));
  } catch (caught) {
    platform.warn(`Could not publish outputs or the run summary: ${caught instanceof Error ? caught.message : String(caught)}`);
  }
}

function finish(message: string, errors: readonly TaskError[], warnings: readonly Problem[], plan?: Plan, applied?: ApplyResult): RunResult {
  const status: RunStatus = errors.length > 0 ? 'failed' : warnings.length > 0 ? 'succeededWithIssues' : 'succeeded';
  return { status, message, errors, warnings, ...(plan ? { plan } : {}), ...(applied ? { applied } : {}) };
}

function failed(message: string, errors: readonly TaskError[], warnings: readonly Problem[], plan?: Plan): RunResult {
  return { status: 'failed', message, errors, warnings, ...(plan ? { plan } : {}) };
}

function redactingPlatform(platform: Platform, secrets: readonly string[]): Platform {
  const clean = (text: string): string => redact(text, secrets);
  return {
    info: (message) => platform.info(clean(message)),
    warn: (message) => platform.warn(clean(message)),
    debug: (message) => platform.debug(clean(message)),
    setSecret: (value) => platform.setSecret(value),
    ...(platform.group && platform.endGroup ? { group: (title: string) => platform.group!(clean(title)), endGroup: () => platform.endGroup!() } : {}),
    setOutput: (name, value) => platform.setOutput(name, clean(value)),
    uploadSummary: (markdown) => platform.uploadSummary(clean(markdown)),
    readTextFile: (path) => platform.readTextFile(path),
    writeTextFile: (path, text) => platform.writeTextFile(path, clean(text)),
  };
}

function redactError(error: TaskError, secrets: readonly string[]): TaskError {
  const clean = (text: string): string => redact(text, secrets);
  const message = clean(error.message);
  const problems = error.problems.map((item) => ({ ...item, message: clean(item.message) }));
  if (message === error.message && problems.every((item, index) => item.message === error.problems[index]!.message)) return error;
  return new TaskError(error.code, message, { ...error, remediation: error.remediation, problems, cause: error.cause });
}

/** "Provisioned 2 environments and verified 3 connections", saying so when some were not tested (disabled). */
function provisionedSummary(plan: Plan, applied: ApplyResult): string {
  // Environments the spec no longer declares (pruned, prune.ts) are not "provisioned": they are said apart.
  const removed = plan.environments.filter((environment) => environment.outsideSpec).length;
  const environments = applied.environments.length - removed;
  const connections = plan.environments.reduce((sum, environment) => sum + environment.connections.length, 0);
  const verified = applied.environments
    .flatMap((environment) => environment.actions)
    .filter((outcome) => outcome.action.kind === 'testConnection' && outcome.status === 'succeeded').length;
  const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
  const untested = connections - verified;
  const removal = removed > 0 ? `; removed ${plural(removed, 'environment')} no longer in the spec` : '';
  return `Provisioned ${plural(environments, 'environment')} and verified ${plural(verified, 'connection')}${untested > 0 ? ` (${untested} not tested)` : ''}${removal}`;
}
