// Reads and validates the platform policy (version 1): YAML or JSON text → Policy, or every problem at once as
// MIC141 with the field path, the line and column, and what is allowed. Hand-written like the spec validator
// (validate-spec.ts) and held to the same verdicts as policy.v1.schema.json by tests/unit/policy.test.ts.
import { problem, type Problem } from '../errors';
import { guidRule } from '../core/names';
import type { Policy, PolicyRule } from '../core/policy';
import { closestMatch } from './did-you-mean';
import { formatPath, parseSpecText, type FieldPath, type SpecDocument } from './spec-source';

export const policyFields = {
  root: ['$schema', 'version', 'rules'],
  rule: [
    'name',
    'match',
    'subscriptions',
    'resourceGroups',
    'identityResourceGroups',
    'roles',
    'identityNamePattern',
    'connectionNamePattern',
    'maxEnvironments',
    'maxConnections',
    'allowSharing',
    'allowAuthorizeAll',
    'allowPrivilegedRoles',
  ],
  match: ['project', 'repository'],
} as const;

/** Names in messages: `rule orders-team`. */
export const policyRuleNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type PolicyResult = { readonly ok: true; readonly policy: Policy } | { readonly ok: false; readonly problems: readonly Problem[] };

export function loadPolicyText(text: string, source: string): PolicyResult {
  const parsed = parseSpecText(text);
  if (!parsed.ok) {
    // The reader speaks of "the environments spec"; the problem is the policy's.
    return { ok: false, problems: parsed.problems.map((item) => problem('MIC141', item.message.replace(/The environments spec/g, `The platform policy (${source})`), { field: 'policy', line: item.line, column: item.column })) };
  }
  return validatePolicy(parsed.document, source);
}

export function validatePolicy(document: SpecDocument, source: string): PolicyResult {
  const check = new PolicyCheck(document, source);
  const root = check.object(document.value, [], policyFields.root);
  if (!root) return { ok: false, problems: check.problems };
  if (root['$schema'] !== undefined && typeof root['$schema'] !== 'string') check.report(['$schema'], '$schema must be a string');
  if (root['version'] !== 1) check.report(['version'], `version must be 1; got ${JSON.stringify(root['version'] ?? null)}`);
  const rules: PolicyRule[] = [];
  const rawRules = root['rules'];
  if (!Array.isArray(rawRules) || rawRules.length === 0) {
    check.report(['rules'], 'rules must be a non-empty list of rules (the first whose match fits the project and repository applies)');
  } else {
    const names = new Set<string>();
    rawRules.forEach((raw, index) => {
      const rule = check.rule(raw, ['rules', index]);
      if (!rule) return;
      if (names.has(rule.name.toLowerCase())) check.report(['rules', index, 'name'], `rule name ${rule.name} is used twice; names must be unique`);
      names.add(rule.name.toLowerCase());
      rules.push(rule);
    });
  }
  return check.problems.length > 0 ? { ok: false, problems: check.problems } : { ok: true, policy: { source, rules } };
}

class PolicyCheck {
  readonly problems: Problem[] = [];

  constructor(
    private readonly document: SpecDocument,
    private readonly source: string,
  ) {}

  report(path: FieldPath, message: string, part: 'key' | 'value' = 'value'): void {
    const position = this.document.position(path, part);
    this.problems.push(problem('MIC141', `The platform policy (${this.source}): ${message}.`, { field: `policy.${formatPath(path)}`, line: position?.line, column: position?.column }));
  }

  object(value: unknown, path: FieldPath, fields: readonly string[]): Record<string, unknown> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.report(path, `${path.length === 0 ? 'the policy' : formatPath(path)} must be a mapping with the fields ${fields.join(', ')}`);
      return undefined;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (fields.includes(key)) continue;
      const suggestion = closestMatch(key, fields);
      this.report([...path, key], `unknown field ${JSON.stringify(key)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}; allowed: ${fields.join(', ')}`, 'key');
    }
    return record;
  }

  rule(value: unknown, path: FieldPath): PolicyRule | undefined {
    const raw = this.object(value, path, policyFields.rule);
    if (!raw) return undefined;
    const name = raw['name'];
    if (typeof name !== 'string' || !policyRuleNamePattern.test(name)) {
      this.report([...path, 'name'], `name is required: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(name ?? null)}`);
    }
    const match = raw['match'] === undefined ? {} : this.object(raw['match'], [...path, 'match'], policyFields.match);
    const project = match && this.text(match, 'project', [...path, 'match']);
    const repository = match && this.text(match, 'repository', [...path, 'match']);
    const subscriptions = this.list(raw, 'subscriptions', path, (item) => guidRule.pattern.test(item), guidRule.description);
    const rule: PolicyRule = {
      name: typeof name === 'string' ? name : '',
      match: { ...(project === undefined ? {} : { project }), ...(repository === undefined ? {} : { repository }) },
      ...optional('subscriptions', subscriptions?.map((item) => item.toLowerCase())),
      ...optional('resourceGroups', this.list(raw, 'resourceGroups', path)),
      ...optional('identityResourceGroups', this.list(raw, 'identityResourceGroups', path)),
      ...optional('roles', this.list(raw, 'roles', path)),
      ...optional('identityNamePattern', this.pattern(raw, 'identityNamePattern', path)),
      ...optional('connectionNamePattern', this.pattern(raw, 'connectionNamePattern', path)),
      ...optional('maxEnvironments', this.count(raw, 'maxEnvironments', path)),
      ...optional('maxConnections', this.count(raw, 'maxConnections', path)),
      allowSharing: this.flag(raw, 'allowSharing', path),
      allowAuthorizeAll: this.flag(raw, 'allowAuthorizeAll', path),
      allowPrivilegedRoles: this.flag(raw, 'allowPrivilegedRoles', path),
    };
    return rule;
  }

  private text(container: Record<string, unknown>, key: string, path: FieldPath): string | undefined {
    const value = container[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      this.report([...path, key], `${key} must be a non-empty string (a pattern: * any run of characters, ? one)`);
      return undefined;
    }
    return value;
  }

  private list(container: Record<string, unknown>, key: string, path: FieldPath, valid: (item: string) => boolean = () => true, rule = 'a non-empty string'): string[] | undefined {
    const value = container[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.length === 0) {
      this.report([...path, key], `${key} must be a non-empty list`);
      return undefined;
    }
    const items: string[] = [];
    value.forEach((item, index) => {
      if (typeof item !== 'string' || item.trim() === '' || !valid(item)) this.report([...path, key, index], `${key}[${index}] must be ${rule}; got ${JSON.stringify(item)}`);
      else items.push(item);
    });
    return items;
  }

  private pattern(container: Record<string, unknown>, key: string, path: FieldPath): string | undefined {
    const value = container[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') {
      this.report([...path, key], `${key} must be a regular expression as a non-empty string`);
      return undefined;
    }
    try {
      new RegExp(value);
    } catch (error) {
      this.report([...path, key], `${key} is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
    return value;
  }

  private count(container: Record<string, unknown>, key: string, path: FieldPath): number | undefined {
    const value = container[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      this.report([...path, key], `${key} must be a whole number from 1; got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  }

  private flag(container: Record<string, unknown>, key: string, path: FieldPath): boolean {
    const value = container[key];
    if (value === undefined) return false;
    if (typeof value !== 'boolean') {
      this.report([...path, key], `${key} must be true or false; got ${JSON.stringify(value)}`);
      return false;
    }
    return value;
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
