// Checks on a connection (Azure DevOps Approvals and checks) in one normal form, so that the spec's checks and
// those read back from Azure DevOps compare as equal exactly when they mean the same: approver ids lowercase and
// sorted, weekdays in week order, texts trimmed. Pure.
import type { CheckSpec } from '../ports/devops';

export const weekDays = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;

/** Azure DevOps' default check timeout: 30 days, in minutes. */
export const defaultCheckTimeoutMinutes = 43200;

export function normalizeCheck(check: CheckSpec): CheckSpec {
  switch (check.kind) {
    case 'approval':
      return { ...check, approvers: [...new Set(check.approvers.map((id) => id.toLowerCase()))].sort(), instructions: check.instructions.trim() };
    case 'exclusiveLock':
      return check;
    case 'requiredTemplate':
      return { ...check, templates: check.templates.map((template) => ({ repositoryType: template.repositoryType.toLowerCase(), repository: template.repository, ref: template.ref, path: template.path.replace(/^\/+/, '') })) };
    case 'businessHours': {
      const wanted = new Set(check.days.map((day) => day.toLowerCase()));
      return { ...check, days: weekDays.filter((day) => wanted.has(day.toLowerCase())) };
    }
  }
}
