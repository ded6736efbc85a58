// The platform policy: what the platform team allows a project / repository to ask for, decided outside the
// application's spec (docs/governance.md). PURE: which rule applies, and every way a spec breaks it, as
// problems with stable codes (MIC142–MIC148) pointing into the spec and naming the rule. The policy text is
// read and validated in spec/policy-validate.ts; run.ts refuses the run on any violation before any write.
import { problem, type ErrorCode, type Problem } from '../errors';
import { roleKey, type DesiredEnvironment, type RoleDefinition, type SpecOrigin } from './model';
import { parseScope } from './scopes';

export interface PolicyRule {
  /** Named in every message, so that a refusal says which rule of the platform refused it. */
  readonly name: string;
  /** Glob patterns (`*` any run, `?` one character, case-insensitive); absent: any. */
  readonly match: { readonly project?: string; readonly repository?: string };
  /** Subscription GUIDs identities, connections and role scopes may use; absent: any. */
  readonly subscriptions?: readonly string[];
  /** Glob patterns for role scopes' and connections' resource groups; with it, subscription-wide roles are refused. */
  readonly resourceGroups?: readonly string[];
  /** Glob patterns for the identities' resource groups. */
  readonly identityResourceGroups?: readonly string[];
  /** Role names or definition GUIDs that may be granted. */
  readonly roles?: readonly string[];
  /** Regular expressions (as written: anchor them) for identity and connection names. */
  readonly identityNamePattern?: string;
  readonly connectionNamePattern?: string;
  readonly maxEnvironments?: number;
  readonly maxConnections?: number;
  /** Off unless the rule says true. */
  readonly allowSharing: boolean;
  readonly allowAuthorizeAll: boolean;
  readonly allowPrivilegedRoles: boolean;
}

export interface Policy {
  /** Where it came from, for messages: `policy input` or the file path. */
  readonly source: string;
  readonly rules: readonly PolicyRule[];
}

export interface PolicySubject {
  readonly project: string;
  /** Build.Repository.Name; absent outside a pipeline run. */
  readonly repository?: string;
}

/** The first rule whose project and repository patterns both match; undefined: nothing is allowed. */
export function selectRule(policy: Policy, subject: PolicySubject): PolicyRule | undefined {
  return policy.rules.find(
    (rule) =>
      globMatches(rule.match.project ?? '*', subject.project) &&
      (rule.match.repository === undefined || (subject.repository !== undefined && globMatches(rule.match.repository, subject.repository))),
  );
}

export function noRuleProblem(policy: Policy, subject: PolicySubject): Problem {
  const who = `project ${subject.project}${subject.repository === undefined ? '' : `, repository ${subject.repository}`}`;
  return problem('MIC142', `No rule of the platform policy (${policy.source}) matches ${who}, so nothing may be provisioned from it. Rules: ${policy.rules.map((rule) => rule.name).join(', ') || '(none)'}.`, { field: 'policy' });
}

export function describeRule(policy: Policy, rule: PolicyRule, subject: PolicySubject): string {
  const limits = [
    rule.subscriptions && `subscriptions ${rule.subscriptions.join(', ')}`,
    rule.resourceGroups && `resource groups ${rule.resourceGroups.join(', ')}`,
    rule.identityResourceGroups && `identity resource groups ${rule.identityResourceGroups.join(', ')}`,
    rule.roles && `roles ${rule.roles.join(', ')}`,
    rule.identityNamePattern && `identity names ${rule.identityNamePattern}`,
    rule.connectionNamePattern && `connection names ${rule.connectionNamePattern}`,
    rule.maxEnvironments !== undefined && `at most ${rule.maxEnvironments} environments`,
    rule.maxConnections !== undefined && `at most ${rule.maxConnections} connections`,
    `sharing ${rule.allowSharing ? 'allowed' : 'not allowed'}`,
    `authorize: all ${rule.allowAuthorizeAll ? 'allowed' : 'not allowed'}`,
    `privileged roles ${rule.allowPrivilegedRoles ? 'allowed' : 'not allowed'}`,
  ].filter((item): item is string => typeof item === 'string');
  return `Platform policy (${policy.source}): rule ${rule.name} applies to project ${subject.project}${subject.repository === undefined ? '' : `, repository ${subject.repository}`} — ${limits.join('; ')}.`;
}

/**
 * Every way the spec (all of its environments, whatever `only` selects) breaks the rule, except roles, whose
 * names and GUIDs are only both known after observation (checkRoles).
 */
export function checkSpec(rule: PolicyRule, environments: readonly DesiredEnvironment[], options: { readonly allowPrivilegedRoles: boolean }): Problem[] {
  const found: Problem[] = [];
  const refuse = (code: ErrorCode, setting: string, message: string, origin: SpecOrigin, environment?: string): void => {
    found.push(problem(code, `${message} (platform policy rule ${rule.name}, ${setting}).`, { field: origin.field, line: origin.line, column: origin.column, environment }));
  };
  if (options.allowPrivilegedRoles && !rule.allowPrivilegedRoles) refuse('MIC148', 'allowPrivilegedRoles', 'allowPrivilegedRoles is true, but the platform does not allow privileged roles here', { field: 'allowPrivilegedRoles' });
  if (rule.maxEnvironments !== undefined && environments.length > rule.maxEnvironments) {
    refuse('MIC147', 'maxEnvironments', `The spec declares ${environments.length} environments; at most ${rule.maxEnvironments} are allowed`, { field: 'environments' });
  }
  const connectionCount = environments.reduce((sum, environment) => sum + environment.connections.length, 0);
  if (rule.maxConnections !== undefined && connectionCount > rule.maxConnections) {
    refuse('MIC147', 'maxConnections', `The spec declares ${connectionCount} connections; at most ${rule.maxConnections} are allowed`, { field: 'environments' });
  }
  const subscriptionAllowed = (id: string): boolean => rule.subscriptions === undefined || rule.subscriptions.some((allowed) => allowed.toLowerCase() === id.toLowerCase());
  const groupAllowed = (patterns: readonly string[] | undefined, group: string): boolean => patterns === undefined || patterns.some((pattern) => globMatches(pattern, group));

  for (const environment of environments) {
    const { identity, name } = environment;
    const { ref } = identity;
    const identityOrigin = identity.origin;
    if (!subscriptionAllowed(ref.subscriptionId)) refuse('MIC143', 'subscriptions', `Identity ${ref.name} would live in subscription ${ref.subscriptionId}, which is not allowed`, identityOrigin, name);
    if (!groupAllowed(rule.identityResourceGroups, ref.resourceGroup)) {
      refuse('MIC144', 'identityResourceGroups', `Identity ${ref.name} would live in resource group ${ref.resourceGroup}; allowed: ${rule.identityResourceGroups!.join(', ')}`, identityOrigin, name);
    }
    if (rule.identityNamePattern !== undefined && !new RegExp(rule.identityNamePattern).test(ref.name)) {
      refuse('MIC146', 'identityNamePattern', `Identity name ${ref.name} does not match ${rule.identityNamePattern}`, identityOrigin, name);
    }
    for (const connection of environment.connections) {
      const at = connection.origin;
      if (!subscriptionAllowed(connection.subscriptionId)) refuse('MIC143', 'subscriptions', `Connection ${connection.name} targets subscription ${connection.subscriptionId}, which is not allowed`, at, name);
      if (connection.resourceGroup !== undefined && !groupAllowed(rule.resourceGroups, connection.resourceGroup)) {
        refuse('MIC144', 'resourceGroups', `Connection ${connection.name} is scoped to resource group ${connection.resourceGroup}; allowed: ${rule.resourceGroups!.join(', ')}`, at, name);
      }
      if (rule.connectionNamePattern !== undefined && !new RegExp(rule.connectionNamePattern).test(connection.name)) {
        refuse('MIC146', 'connectionNamePattern', `Connection name ${connection.name} does not match ${rule.connectionNamePattern}`, at, name);
      }
      if (connection.shareWith.length > 0 && !rule.allowSharing) refuse('MIC148', 'allowSharing', `Connection ${connection.name} would be shared with ${connection.shareWith.join(', ')}; sharing is not allowed`, at, name);
      if (connection.authorize.kind === 'all' && !rule.allowAuthorizeAll) refuse('MIC148', 'allowAuthorizeAll', `Connection ${connection.name} asks for authorize: all; only named pipelines may be authorized`, at, name);
    }
    for (const role of environment.roles) {
      const scope = parseScope(role.scope);
      if (!scope) continue;
      if (!subscriptionAllowed(scope.subscriptionId)) refuse('MIC143', 'subscriptions', `Role ${role.role} on ${role.scope} lies in subscription ${scope.subscriptionId}, which is not allowed`, role.origin, name);
      else if (rule.resourceGroups !== undefined && (scope.resourceGroup === undefined || !groupAllowed(rule.resourceGroups, scope.resourceGroup))) {
        const where = scope.resourceGroup === undefined ? 'a whole subscription' : `resource group ${scope.resourceGroup}`;
        refuse('MIC144', 'resourceGroups', `Role ${role.role} on ${role.scope} covers ${where}; allowed resource groups: ${rule.resourceGroups.join(', ')}`, role.origin, name);
      }
    }
  }
  return found;
}

/** Roles the rule does not list, by the spec's wording, the definition's name or its GUID (after observation). */
export function checkRoles(rule: PolicyRule, environments: readonly DesiredEnvironment[], definitions: ReadonlyMap<string, RoleDefinition>): Problem[] {
  if (rule.roles === undefined) return [];
  const allowed = new Set(rule.roles.map((role) => role.toLowerCase()));
  const found: Problem[] = [];
  for (const environment of environments) {
    for (const role of environment.roles) {
      const scope = parseScope(role.scope);
      const definition = scope && definitions.get(roleKey(scope.subscriptionId, role.role));
      const names = [role.role, definition?.roleName, definition?.guid].filter((name): name is string => name !== undefined);
      if (names.some((name) => allowed.has(name.toLowerCase()))) continue;
      found.push(
        problem('MIC145', `Role ${definition ? `${definition.roleName} (${definition.guid})` : role.role} is not among the roles the platform allows: ${rule.roles.join(', ')} (platform policy rule ${rule.name}, roles).`, {
          field: `${role.origin.field}.role`,
          line: role.origin.line,
          column: role.origin.column,
          environment: environment.name,
        }),
      );
    }
  }
  return found;
}

/** `*` any run of characters, `?` one; case-insensitive; the whole value must match. */
export function globMatches(pattern: string, value: string): boolean {
  const source = [...pattern].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\/-]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`, 'is').test(value);
}
