// Where the run meets the platform policy: read it (input or file), validate it, pick the rule for this project
// and repository, and refuse the spec on any violation — before anything is read from Azure or Azure DevOps,
// except the role check, which needs the role definitions observe reads (still before any write).
import type { TaskConfig } from '../config';
import { TaskError } from '../errors';
import type { Platform } from '../ports/platform';
import { loadPolicyText } from '../spec/policy-validate';
import type { DesiredEnvironment, RoleDefinition } from './model';
import { checkRoles, checkSpec, describeRule, noRuleProblem, selectRule, type Policy, type PolicyRule } from './policy';

export interface AppliedPolicy {
  readonly policy: Policy;
  readonly rule: PolicyRule;
  /** Which rule applied and what it allows, for the log and the run summary. */
  readonly description: string;
}

export type PolicyAdmission = { readonly ok: true; readonly applied?: AppliedPolicy } | { readonly ok: false; readonly error: TaskError };

/** No policy configured: admitted as before. Otherwise the rule that applied, or why the spec is refused. */
export async function admitByPolicy(config: TaskConfig, platform: Platform, environments: readonly DesiredEnvironment[]): Promise<PolicyAdmission> {
  const source = config.policy;
  if (source === undefined) return { ok: true };
  const name = source.kind === 'inline' ? 'the policy input' : source.path;
  let text: string;
  try {
    text = source.kind === 'inline' ? source.text : await platform.readTextFile(source.path);
  } catch (caught) {
    const reason = caught instanceof Error ? caught.message : String(caught);
    return { ok: false, error: new TaskError('MIC140', `The platform policy file ${name} cannot be read: ${reason}`, { field: 'policyFile', cause: caught }) };
  }
  const loaded = loadPolicyText(text, name);
  if (!loaded.ok) return { ok: false, error: TaskError.aggregate(loaded.problems, `The platform policy has ${loaded.problems.length} problems; nothing was read or changed.`) };
  const subject = { project: config.pipeline.project.name, ...(config.pipeline.repositoryName === undefined ? {} : { repository: config.pipeline.repositoryName }) };
  const rule = selectRule(loaded.policy, subject);
  if (!rule) return { ok: false, error: TaskError.fromProblem(noRuleProblem(loaded.policy, subject)) };
  const description = describeRule(loaded.policy, rule, subject);
  platform.info(description);
  const problems = checkSpec(rule, environments, { allowPrivilegedRoles: config.allowPrivilegedRoles });
  if (problems.length > 0) return { ok: false, error: TaskError.aggregate(problems, `The platform policy (rule ${rule.name}) refuses ${problems.length} things in the spec; nothing was read or changed.`) };
  return { ok: true, applied: { policy: loaded.policy, rule, description } };
}

/** After observation: roles the rule does not list, as one error (undefined when none). */
export function refusedRoles(applied: AppliedPolicy | undefined, environments: readonly DesiredEnvironment[], definitions: ReadonlyMap<string, RoleDefinition>): TaskError | undefined {
  if (!applied) return undefined;
  const problems = checkRoles(applied.rule, environments, definitions);
  return problems.length === 0 ? undefined : TaskError.aggregate(problems, `The platform policy (rule ${applied.rule.name}) refuses ${problems.length} roles; nothing was changed.`);
}
