// How a run reads to a person: error lines for the entry point to log, the run summary (markdown), and the
// output variables. Pure functions of the run's data.
import { errorCatalog, type Problem, type TaskError } from '../errors';
import { cell, formatFinding, formatPlanMarkdown, summarizeAction } from './format-plan';
import { isWrite, type ActionOutcome, type ApplyResult, type EnvironmentPlan, type Finding, type Identity, type Plan, type ServiceConnection } from './model';
import { variableNamePart } from './names';
import type { VerificationRunOutcome } from './verification-run';

/** An error as log text: code, where, what, and how to fix it; an aggregate lists every problem. */
export function formatTaskError(error: TaskError): string {
  if (error.problems.length === 0) return formatProblem(error);
  return [`${error.code}: ${error.message}`, ...error.problems.map((item) => `  - ${formatProblem(item)}`)].join('\n');
}

export function formatProblem(item: Problem): string {
  const where = [item.environment ? `environment ${item.environment}` : undefined, item.field, item.line !== undefined ? `line ${item.line}${item.column !== undefined ? `, column ${item.column}` : ''}` : undefined]
    .filter(Boolean)
    .join(', ');
  return `${item.code}${where ? ` (${where})` : ''}: ${item.message} Fix: ${item.remediation}`;
}

export type RunMode = 'plan' | 'provision' | 'verify' | 'teardown';

export interface EnvironmentState {
  readonly identity?: Identity;
  /** By connection name as in the spec. */
  readonly connections: ReadonlyMap<string, ServiceConnection>;
}

/** The identities and connections as they stand after the run (observed, or as apply left them). */
export function finalState(plan: Plan, applied?: ApplyResult): Map<string, EnvironmentState> {
  const states = new Map<string, EnvironmentState>();
  for (const environment of plan.environments) {
    const outcome = applied?.environments.find((candidate) => candidate.environment === environment.environment);
    if (outcome) {
      states.set(environment.environment, { ...(outcome.identity ? { identity: outcome.identity } : {}), connections: outcome.connections });
      continue;
    }
    const connections = new Map(environment.connections.flatMap((snapshot) => (snapshot.observed ? [[snapshot.name, snapshot.observed] as const] : [])));
    states.set(environment.environment, { ...(environment.identity.observed ? { identity: environment.identity.observed } : {}), connections });
  }
  return states;
}

/**
 * Output variables: `identityClientId_{env}`, `identityPrincipalId_{env}`, `connectionId_{connection}` (names
 * made safe: anything but letters, digits and underscores becomes `_`), set only when known, and
 * `environments`: JSON of everything, with null for what does not exist (yet).
 */
export function outputVariables(plan: Plan, states: ReadonlyMap<string, EnvironmentState>): [string, string][] {
  const variables: [string, string][] = [];
  const json: Record<string, unknown> = {};
  for (const environment of plan.environments) {
    if (environment.outsideSpec) continue;
    const state = states.get(environment.environment);
    const identity = state?.identity;
    const suffix = variableNamePart(environment.environment);
    if (identity) variables.push([`identityClientId_${suffix}`, identity.clientId], [`identityPrincipalId_${suffix}`, identity.principalId]);
    const connections: Record<string, unknown> = {};
    for (const snapshot of environment.connections) {
      const connection = state?.connections.get(snapshot.name);
      if (connection) variables.push([`connectionId_${variableNamePart(snapshot.name)}`, connection.id]);
      // The spec's subscription and resource group with defaults applied: the verify jobs read them from here.
      connections[snapshot.name] = { id: connection?.id ?? null, subscriptionId: snapshot.subscriptionId, resourceGroup: snapshot.resourceGroup ?? null };
    }
    json[environment.environment] = {
      identity: {
        name: environment.identity.ref.name,
        resourceId: identity?.id ?? null,
        clientId: identity?.clientId ?? null,
        principalId: identity?.principalId ?? null,
        tenantId: identity?.tenantId ?? null,
      },
      connections,
    };
  }
  variables.push(['environments', JSON.stringify(json)]);
  return variables;
}

export interface SummaryInput {
  readonly mode: RunMode;
  readonly plan: Plan;
  /** Provision: what apply did. */
  readonly applied?: ApplyResult;
  /** Verify: the connection tests. */
  readonly verified?: ApplyResult;
  /** Provision with queueVerificationRun. */
  readonly verificationRun?: VerificationRunOutcome;
  readonly errors: readonly TaskError[];
  /** What governance applied (the platform policy rule, where the bootstrap identity is), shown under the title. */
  readonly governance?: readonly string[];
}

/** The run summary: one row per environment and connection, then the plan, then problems. */
export function formatRunSummary(input: SummaryInput): string {
  const titles: Record<RunMode, string> = { plan: 'plan', provision: 'provision', verify: 'verify', teardown: 'teardown' };
  const out = [`## Managed identity connections — ${titles[input.mode]}`, ''];
  if (input.governance && input.governance.length > 0) out.push(...input.governance.map((line) => `- ${cell(line)}`), '');
  out.push('| Environment | Identity | Connection | Changes | Verification |', '| --- | --- | --- | --- | --- |');
  const states = finalState(input.plan, input.applied);
  for (const environment of input.plan.environments) {
    const outcomes = (input.applied ?? input.verified)?.environments.find((candidate) => candidate.environment === environment.environment)?.actions ?? [];
    const identity = states.get(environment.environment)?.identity;
    const identityCell = `${environment.identity.ref.name}${identity ? ` (client id ${identity.clientId})` : ''}`;
    // Actions on a connection the spec does not list (a deleted surplus connection) go on the environment's row.
    const listed = new Set(environment.connections.map((snapshot) => snapshot.name));
    const environmentChanges = environment.actions.filter((action) => isWrite(action) && !('connectionName' in action && listed.has(action.connectionName)));
    const rows = environment.connections.length > 0 ? environment.connections : [{ name: '' }];
    rows.forEach((snapshot, index) => {
      const own = environment.actions.filter((action) => isWrite(action) && 'connectionName' in action && action.connectionName === snapshot.name);
      const changes = [...(index === 0 ? environmentChanges : []), ...own].map((action) => changeText(input.mode, action, outcomes));
      out.push(
        `| ${cell(environment.environment)} | ${cell(index === 0 ? identityCell : '')} | ${cell(snapshot.name)} | ${cell(changes.join('; ') || 'none')} | ${cell(verificationText(input.mode, environment, snapshot.name, outcomes))} |`,
      );
    });
  }
  // The plan's table of changes would repeat the rows above once they were applied; plan mode has no rows' worth.
  out.push('', formatPlanMarkdown(input.plan, { changes: input.mode === 'plan' }));
  if (input.verificationRun) out.push('', formatVerificationRun(input.verificationRun));
  if (input.errors.length > 0) out.push('', '**Errors**', '', ...input.errors.map((error) => `- ${cell(formatTaskError(error))}`));
  return out.join('\n');
}

function changeText(mode: RunMode, action: EnvironmentPlan['actions'][number], outcomes: readonly ActionOutcome[]): string {
  const text = summarizeAction(action);
  if (mode === 'plan') return `to do: ${text}`;
  if (mode === 'verify') return `drift: ${text}`;
  const status = outcomes.find((outcome) => outcome.action.id === action.id)?.status ?? 'skipped';
  return status === 'succeeded' ? text : `${text} (${status})`;
}

function verificationText(mode: RunMode, environment: EnvironmentPlan, connectionName: string, outcomes: readonly ActionOutcome[]): string {
  const disabled = environment.findings.some((finding: Finding) => finding.code === 'MIC402' && finding.connection === connectionName);
  if (disabled) return 'disabled (not tested)';
  if (mode === 'plan') return 'not run (plan)';
  const test = outcomes.find((outcome) => outcome.action.kind === 'testConnection' && outcome.action.connectionName === connectionName);
  if (!test) return 'not run';
  if (test.status === 'succeeded') return `verified${test.detail ? `: ${test.detail}` : ''}`;
  if (test.status === 'skipped') return 'not run (an earlier step failed)';
  return `failed: ${test.error?.code ?? ''} ${test.error?.message ?? ''}`.trim();
}

/** One paragraph: which run, where, and how it ended (or why there is none). */
export function formatVerificationRun(outcome: VerificationRunOutcome): string {
  const { run } = outcome;
  if (!run) {
    const why = outcome.error ? `could not be queued: ${outcome.error.code} ${outcome.error.message}` : `not queued: ${outcome.reason ?? ''}`;
    return `**Verification run**: ${cell(why.trim())}`;
  }
  const where = `pipeline ${run.pipelineId}${outcome.branch ? ` on ${outcome.branch}` : ''}`;
  const status: Record<VerificationRunOutcome['status'], string> = {
    queued: 'queued (not waited for)',
    succeeded: 'succeeded',
    failed: `did not succeed (${run.result ?? run.state})`,
    timedOut: `still ${run.state === 'inProgress' ? 'in progress' : run.state} when the wait ended`,
    notQueued: 'not queued',
  };
  return `**Verification run**: [${cell(run.name)}](${run.url}) of ${where} — ${status[outcome.status]}.`;
}

export function codeTitle(code: keyof typeof errorCatalog): string {
  return errorCatalog[code].title;
}

export { formatFinding };
