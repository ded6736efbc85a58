// How a run shows itself in the log: the plan, one log group per environment, and apply's progress grouped the
// same way (environments run in parallel; their lines would otherwise interleave).
import type { Platform } from '../ports/platform';
import type { ApplyEvent } from './apply';
import { describeAction, formatPlanSections } from './format-plan';
import type { Plan } from './model';

/** The plan, each environment's part as one log group. */
export function printPlan(platform: Platform, plan: Plan): void {
  const sections = formatPlanSections(plan);
  for (const line of sections.head) platform.info(line);
  for (const environment of sections.environments) inGroup(platform, environment.title, environment.lines);
  for (const line of sections.tail) platform.info(line);
}

export function inGroup(platform: Platform, title: string, lines: readonly string[]): void {
  if (platform.group && platform.endGroup) {
    platform.group(title);
    for (const line of lines) platform.info(line);
    platform.endGroup();
  } else {
    for (const line of [title, ...lines]) platform.info(line);
  }
}

/**
 * Apply's progress, one log group per environment, printed when the environment is done (every action has
 * succeeded, failed or been skipped): environments run in parallel, and their lines would interleave. Debug
 * lines go out at once; retries print their own lines as they wait (ServiceCalls).
 */
export function groupedProgress(platform: Platform, plan: Plan): (event: ApplyEvent) => void {
  const remaining = new Map(plan.environments.map((environment) => [environment.environment, environment.actions.length]));
  const lines = new Map<string, string[]>();
  return (event) => {
    const environment = event.action.environment;
    const line = progressLine(event);
    if (line.debug) platform.debug(line.text);
    else {
      let held = lines.get(environment);
      if (!held) lines.set(environment, (held = []));
      held.push(line.text);
    }
    if (event.type === 'started') return;
    const left = (remaining.get(environment) ?? 1) - 1;
    remaining.set(environment, left);
    if (left === 0) inGroup(platform, `Environment ${environment}: results`, lines.get(environment) ?? []);
  };
}

function progressLine(event: ApplyEvent): { readonly text: string; readonly debug?: boolean } {
  const prefix = `[${event.action.environment}]`;
  switch (event.type) {
    case 'started':
      return event.action.kind === 'testConnection' ? { text: `${prefix} ${describeAction(event.action)}…` } : { text: `${prefix} start: ${describeAction(event.action)}`, debug: true };
    case 'succeeded':
      return { text: `${prefix} done: ${describeAction(event.action)}${event.detail ? ` — ${event.detail}` : ''}` };
    case 'failed':
      return { text: `${prefix} failed: ${describeAction(event.action)} — ${event.error.code}` };
    case 'skipped':
      return { text: `${prefix} skipped (an earlier step failed): ${describeAction(event.action)}` };
  }
}
