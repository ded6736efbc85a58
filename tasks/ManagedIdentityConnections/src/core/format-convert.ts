// The convert command's plan as text and its summary as markdown: one row per connection, the old app
// registration named in it (reported, never deleted). No decision depends on this wording.
import type { TaskError } from '../errors';
import type { ConnectionConversion, ConvertAction, ConvertPlan } from './convert-plan';
import { cell } from './format-plan';

export interface ConversionOutcome {
  readonly conversion: ConnectionConversion;
  /** converted: something was written and it verified; unchanged: nothing to write, it verified. */
  readonly status: 'converted' | 'unchanged' | 'failed' | 'refused';
  readonly done: readonly ConvertAction[];
  readonly failedAction?: ConvertAction;
  readonly error?: TaskError;
}

export function describeConvertAction(action: ConvertAction): string {
  switch (action.kind) {
    case 'createIdentity':
      return `create managed identity ${action.ref.name} in ${action.ref.resourceGroup} (${action.location})`;
    case 'assignRole':
      return `assign ${action.roleName} on ${action.scope} to the identity`;
    case 'switchConnection':
      return 'switch the connection to workload identity federation (ConvertAuthenticationScheme)';
    case 'writeCredential':
      return `write federated credential ${action.name} from the connection's issuer and subject`;
    case 'verify':
      return action.rollbackOnFailure ? 'verify (TestConnection); roll back to the secret on failure' : 'verify (TestConnection)';
  }
}

export function formatConversionPlan(plan: ConvertPlan): string[] {
  const lines = [`Convert plan: ${plan.conversions.length} connection${plan.conversions.length === 1 ? '' : 's'}.`];
  for (const missing of plan.missing) lines.push(`  ${missing.code}: ${missing.message}`);
  for (const conversion of plan.conversions) {
    const { connection } = conversion;
    lines.push(`Connection ${connection.name} (${connection.id}) — ${stateText(conversion)}`);
    if (conversion.refusal) lines.push(`  refused, ${conversion.refusal.code}: ${conversion.refusal.message}`);
    for (const action of conversion.actions) lines.push(`  + ${describeConvertAction(action)} — ${action.reason}`);
    if (conversion.appId) lines.push(`  = app registration ${conversion.appId} is kept (never deleted): remove its secret once nothing else uses it`);
  }
  return lines;
}

function stateText(conversion: ConnectionConversion): string {
  switch (conversion.state) {
    case 'convert':
      return 'signs in with a service principal secret: convert';
    case 'resume':
      return 'switched by an earlier run that did not finish: finish it';
    case 'converted':
      return 'already converted';
    case 'refused':
      return 'cannot be converted';
  }
}

export function formatConversionSummary(plan: ConvertPlan, outcomes: readonly ConversionOutcome[] | undefined, options: { readonly dryRun: boolean }): string {
  const title = options.dryRun ? '## Convert (dry run: nothing written)' : outcomes ? '## Convert' : '## Convert (refused: nothing written)';
  const rows = plan.conversions.map((conversion) => {
    const outcome = outcomes?.find((candidate) => candidate.conversion === conversion);
    const roles = conversion.actions.filter((action) => action.kind === 'assignRole').length;
    const identity = conversion.identity ? conversion.identity.ref.name : '—';
    const result = outcome ? (outcome.error ? `${outcome.status}: ${outcome.error.code} ${outcome.error.message}` : outcome.status) : conversion.refusal ? `refused: ${conversion.refusal.code}` : `planned: ${conversion.actions.length} step${conversion.actions.length === 1 ? '' : 's'}`;
    const app = conversion.appId ? `${conversion.appId} (kept, not deleted)` : '—';
    return `| ${cell(conversion.connection.name)} | ${cell(app)} | ${cell(identity)} | ${roles} | ${cell(result)} |`;
  });
  const missing = plan.missing.map((item) => `- ${item.code}: ${cell(item.message)}`);
  return [title, '', '| connection | old app registration | managed identity | roles copied | result |', '| --- | --- | --- | --- | --- |', ...rows, ...(missing.length > 0 ? ['', ...missing] : []), ''].join('\n');
}
