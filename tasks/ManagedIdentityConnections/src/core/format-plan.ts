// The plan as text (log lines) and as markdown (the run summary). Separate from plan() so that the plan stays
// data and its wording can change without touching a decision. Grants are listed on their own, after the
// per-environment changes, so that a reviewer sees every broadening of access in one place.
import { isDestructive, isGrant, isWrite, type Action, type AuthorizePipelinesAction, type CheckSpec, type EnvironmentPlan, type Finding, type Plan, type Resolvable } from './model';
import { checkLabel, roleAssignmentName } from './names';

/** One line saying what the action does, in the imperative ("create …"). */
export function describeAction(action: Action): string {
  switch (action.kind) {
    case 'createIdentity':
      return `create managed identity ${action.identity.name} in resource group ${action.identity.resourceGroup} (${action.location}, subscription ${action.identity.subscriptionId})`;
    case 'updateIdentityTags':
      return `set tags ${formatTags(action.changedTags)} on identity ${action.identity.name}`;
    case 'createConnection': {
      const scope = action.definition.resourceGroupScope ? `, resource group scope ${action.definition.resourceGroupScope}` : '';
      return `create service connection ${action.connectionName} → subscription ${action.definition.subscriptionName} (${action.definition.subscriptionId})${scope}`;
    }
    case 'updateConnection':
      return `update service connection ${action.connectionName}: ${action.changes.map((change) => `${change.field} ${change.from ?? '(none)'} → ${describeValue(change.to)}`).join('; ')}`;
    case 'createFederatedCredential':
      return `create federated credential ${action.credentialName} on identity ${action.identity.name} for connection ${action.connectionName} (issuer ${describeValue(action.issuer)}, subject ${describeValue(action.subject)})`;
    case 'updateFederatedCredential':
      return `update federated credential ${action.credentialName} on identity ${action.identity.name} in place for connection ${action.connectionName} (issuer ${describeValue(action.issuer)}, subject ${describeValue(action.subject)})`;
    case 'assignRole': {
      const name = 'known' in action.principalId ? ` (assignment ${roleAssignmentName(action.scope, action.roleDefinitionGuid, action.principalId.known)})` : '';
      return `assign ${action.roleName} on ${action.scope} to identity ${action.identityName}${name}`;
    }
    case 'authorizePipelines':
      return action.allPipelines
        ? `authorize all pipelines to use connection ${action.connectionName}`
        : `authorize pipeline${action.pipelineIds.length > 1 ? 's' : ''} ${action.pipelineIds.join(', ')}${inProject(action)} to use connection ${action.connectionName}`;
    case 'shareConnection':
      return `share connection ${action.connectionName} with ${action.projects.map((project) => project.name).join(', ')}`;
    case 'configureCheck':
      return `${action.existing ? `rewrite check ${action.existing.id} on` : 'add a check to'} connection ${action.connectionName}: ${describeCheck(action.check)}`;
    case 'switchConnectionIssuer':
      return `switch service connection ${action.connectionName} from issuer ${action.fromIssuer} to the Entra issuer`;
    case 'testConnection':
      return `verify service connection ${action.connectionName}`;
    case 'revokePipelines': {
      const what = [...(action.allPipelines ? ['every pipeline'] : []), ...(action.pipelineIds.length > 0 ? [`pipeline${action.pipelineIds.length > 1 ? 's' : ''} ${action.pipelineIds.join(', ')}`] : [])].join(' and ');
      return `revoke the permission of ${what} to use connection ${action.connectionName}`;
    }
    case 'unshareConnection':
      return `stop sharing connection ${action.connectionName} with ${action.projects.map((project) => project.name).join(', ')}`;
    case 'deleteConnection':
      return `delete service connection ${action.connectionName} (${action.connectionId}) from project ${action.project.name}`;
    case 'deleteFederatedCredential':
      return `delete federated credential ${action.credentialName} from identity ${action.identity.name} (subject ${action.subject})`;
    case 'deleteRoleAssignment':
      return `delete the ${action.roleName} assignment on ${action.scope} of identity ${action.identityName}`;
    case 'deleteIdentity':
      return `delete managed identity ${action.identity.name} (client id ${action.clientId}) from resource group ${action.identity.resourceGroup}`;
  }
}

/** A few words for the run summary's table ("connection created", "Reader on …/rg-app"). */
export function summarizeAction(action: Action): string {
  switch (action.kind) {
    case 'createIdentity':
      return 'identity created';
    case 'updateIdentityTags':
      return `identity tags set (${Object.keys(action.changedTags).join(', ')})`;
    case 'createConnection':
      return 'connection created';
    case 'updateConnection':
      return `connection updated (${action.changes.map((change) => change.field).join(', ')})`;
    case 'createFederatedCredential':
      return `credential ${action.credentialName} created`;
    case 'updateFederatedCredential':
      return `credential ${action.credentialName} updated`;
    case 'assignRole':
      return `${action.roleName} on ${action.scope}`;
    case 'authorizePipelines':
      return action.allPipelines ? 'all pipelines authorized' : `pipeline${action.pipelineIds.length > 1 ? 's' : ''} ${action.pipelineIds.join(', ')} authorized`;
    case 'shareConnection':
      return `shared with ${action.projects.map((project) => project.name).join(', ')}`;
    case 'configureCheck':
      return `${checkLabel(action.check.kind)} check ${action.existing ? 'updated' : 'added'}`;
    case 'switchConnectionIssuer':
      return 'moved to the Entra issuer';
    case 'testConnection':
      return 'tested';
    case 'revokePipelines':
      return `pipeline permissions revoked (${[...(action.allPipelines ? ['all'] : []), ...action.pipelineIds].join(', ')})`;
    case 'unshareConnection':
      return `unshared from ${action.projects.map((project) => project.name).join(', ')}`;
    case 'deleteConnection':
      return `connection ${action.connectionName} deleted`;
    case 'deleteFederatedCredential':
      return `credential ${action.credentialName} deleted`;
    case 'deleteRoleAssignment':
      return `${action.roleName} on ${action.scope} removed`;
    case 'deleteIdentity':
      return 'identity deleted';
  }
}

/** The grant an action makes, as "who gets what", for the grants list. */
export function describeGrant(action: Action): string | undefined {
  switch (action.kind) {
    case 'assignRole':
      return `identity ${action.identityName} gets ${action.roleName} on ${action.scope}`;
    case 'createFederatedCredential':
    case 'updateFederatedCredential':
      return `service connection ${action.connectionName} may sign in as identity ${action.identity.name} (credential ${action.credentialName})`;
    case 'authorizePipelines': {
      if (action.allPipelines) return `every pipeline of the project may use connection ${action.connectionName}`;
      const why = action.forVerificationRun === undefined ? '' : ` (pipeline ${action.forVerificationRun}: for the verification run)`;
      return `pipeline${action.pipelineIds.length > 1 ? 's' : ''} ${action.pipelineIds.join(', ')}${inProject(action)} may use connection ${action.connectionName}${why}`;
    }
    case 'shareConnection':
      return `project${action.projects.length > 1 ? 's' : ''} ${action.projects.map((project) => project.name).join(', ')} may use connection ${action.connectionName}`;
    default:
      return undefined;
  }
}

/** A check in words: "Approvals by a, b (1 required, timeout 1440 min)". */
export function describeCheck(check: CheckSpec): string {
  const timeout = `timeout ${check.timeoutMinutes} min`;
  switch (check.kind) {
    case 'approval':
      return `Approvals by ${check.approvers.join(', ')} (${check.minApprovers === 0 ? 'all' : check.minApprovers} required, ${timeout})`;
    case 'exclusiveLock':
      return `Exclusive lock (${timeout})`;
    case 'requiredTemplate':
      return `Required template ${check.templates.map((template) => `${template.path}@${template.repository} (${template.repositoryType}, ${template.ref})`).join(' or ')}`;
    case 'businessHours':
      return `Business hours ${check.days.join(', ')} ${check.start}–${check.end} ${check.timeZone} (${timeout})`;
  }
}

export function describeValue(value: Resolvable<unknown>): string {
  if ('known' in value) return value.known === undefined ? '(none)' : String(value.known);
  if (value.output.startsWith('identity.')) return `(${value.output.slice('identity.'.length)} of the new identity)`;
  return '(read back after creation)';
}

export function formatFinding(finding: Finding): string {
  return `${finding.severity} ${formatFindingBody(finding)}`;
}

/** A finding without its severity: for a warning issue, which the agent already labels as one. */
export function formatFindingBody(finding: Finding): string {
  const where = [finding.field, finding.line !== undefined ? `line ${finding.line}` : undefined].filter(Boolean).join(', ');
  return `${finding.code}${where ? ` (${where})` : ''}: ${finding.message} ${finding.remediation}`;
}

export function planCounts(plan: Plan): { environments: number; changes: number; grants: number; removals: number; errors: number; warnings: number } {
  const actions = plan.environments.flatMap((environment) => environment.actions);
  const findings = plan.environments.flatMap((environment) => environment.findings);
  return {
    environments: plan.environments.length,
    changes: actions.filter(isWrite).length,
    grants: actions.filter(isGrant).length,
    removals: actions.filter(isDestructive).length,
    errors: findings.filter((finding) => finding.severity === 'error').length,
    warnings: findings.filter((finding) => finding.severity === 'warning').length,
  };
}

/** The plan as log lines. Reads (connection tests) are not changes and are not listed. */
export function formatPlanText(plan: Plan): string[] {
  const sections = formatPlanSections(plan);
  return [...sections.head, ...sections.environments.flatMap((environment) => ['', environment.title, ...environment.lines]), ...sections.tail];
}

/** The plan text in parts: the headline, one titled part per environment (a log group), the grants. */
export function formatPlanSections(plan: Plan): { head: string[]; environments: { title: string; lines: string[] }[]; tail: string[] } {
  const environments = plan.environments.map((environment) => {
    const writes = environment.actions.filter(isWrite);
    const lines: string[] = [];
    for (const action of writes) lines.push(`  ${symbol(action)} ${describeAction(action)}`, `      because: ${action.reason}`);
    for (const finding of environment.findings) lines.push(`  ! ${formatFinding(finding)}`);
    return { title: `Environment ${environment.environment}: identity ${identityLine(environment)}${writes.length === 0 ? ' — no changes' : ''}`, lines };
  });
  const grants = plan.environments.flatMap((environment) => environment.actions.flatMap((action) => grantLine(action)));
  const removals = removalLines(plan);
  const tail = [
    ...(grants.length > 0 ? ['', 'Access granted by this plan:', ...grants.map((grant) => `  → ${grant}`)] : []),
    ...(removals.length > 0 ? ['', 'Deleted or narrowed by this plan (owned by this task, not in the spec):', ...removals.map((removal) => `  - ${removal}`)] : []),
  ];
  return { head: [headline(plan)], environments, tail };
}

/** "Plan: 2 environments, 11 changes (7 of them grant access), 0 errors, 1 warning." */
export function headline(plan: Plan): string {
  const counts = planCounts(plan);
  const removals = counts.removals > 0 ? `, ${counts.removals} delete${counts.removals === 1 ? 's' : ''} or narrow${counts.removals === 1 ? 's' : ''} access` : '';
  return `Plan: ${counts.environments} environment${s(counts.environments)}, ${counts.changes} change${s(counts.changes)} (${counts.grants} of them grant${counts.grants === 1 ? 's' : ''} access${removals}), ${counts.errors} error${s(counts.errors)}, ${counts.warnings} warning${s(counts.warnings)}.`;
}

/** The plan as markdown for the run summary; `changes: false` leaves out the table of changes (apply lists them). */
export function formatPlanMarkdown(plan: Plan, options: { readonly changes: boolean } = { changes: true }): string {
  const out = [`**${headline(plan)}**`];
  if (options.changes) {
    out.push('', '| Environment | Change | Why |', '| --- | --- | --- |');
    for (const environment of plan.environments) {
      const writes = environment.actions.filter(isWrite);
      if (writes.length === 0) out.push(`| ${cell(environment.environment)} | no changes | |`);
      for (const action of writes) out.push(`| ${cell(environment.environment)} | ${symbol(action)} ${cell(describeAction(action))} | ${cell(action.reason)} |`);
    }
  }
  const grants = plan.environments.flatMap((environment) => environment.actions.flatMap((action) => grantLine(action)));
  if (grants.length > 0) out.push('', '**Access granted by this plan**', '', ...grants.map((grant) => `- ${cell(grant)}`));
  const removals = removalLines(plan);
  if (removals.length > 0) out.push('', '**Deleted or narrowed by this plan**', '', ...removals.map((removal) => `- ${cell(removal)}`));
  const findings = plan.environments.flatMap((environment) => environment.findings);
  if (findings.length > 0) out.push('', '**Findings**', '', ...findings.map((finding) => `- ${cell(`${finding.environment ? `${finding.environment}: ` : ''}${formatFinding(finding)}`)}`));
  return out.join('\n');
}

/** Every destructive action in one list, so that a reviewer sees every deletion in one place. */
function removalLines(plan: Plan): string[] {
  return plan.environments.flatMap((environment) => environment.actions.filter(isDestructive).map((action) => `${action.environment}: ${describeAction(action)}`));
}

function grantLine(action: Action): string[] {
  const grant = describeGrant(action);
  return grant === undefined ? [] : [`${action.environment}: ${grant}`];
}

function identityLine(environment: EnvironmentPlan): string {
  const { ref, observed } = environment.identity;
  if (environment.outsideSpec) return observed ? `${ref.name} (client id ${observed.clientId}; not in the spec)` : '(gone; not in the spec)';
  return observed ? `${ref.name} (client id ${observed.clientId})` : `${ref.name} (to be created)`;
}

function symbol(action: Action): string {
  if (isDestructive(action)) return '-';
  if (action.kind.startsWith('create')) return '+';
  if (action.kind.startsWith('update')) return '~';
  return '→';
}

function formatTags(tags: Readonly<Record<string, string>>): string {
  return Object.entries(tags)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

/** Markdown table cells: no pipes, no line breaks. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function s(count: number): string {
  return count === 1 ? '' : 's';
}

/** ` of project Apps` for pipelines of a project the connection is shared with; nothing for the task's own. */
function inProject(action: AuthorizePipelinesAction): string {
  return action.project ? ` of project ${action.project.name}` : '';
}
