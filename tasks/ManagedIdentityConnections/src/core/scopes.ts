// Role assignment scopes. The spec accepts a subscription, a resource group, or a resource below one; management
// groups are out of scope for version 1 (the bootstrap identity would need rights far above any environment).

export interface ParsedScope {
  readonly subscriptionId: string;
  readonly resourceGroup?: string;
}

// Built without the `i` flag, spelling each keyword in both cases, so that the same pattern source can sit in
// the JSON Schema (JSON Schema patterns take no flags). ARM ids are case-insensitive: `az` prints
// `resourcegroups`, people write `resourceGroups`, both are fine.
const anyCase = (word: string): string => [...word].map((letter) => `[${letter.toUpperCase()}${letter.toLowerCase()}]`).join('');
const guid = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const resourceGroup = '[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]';
const namespace = '[A-Za-z][A-Za-z0-9]*(?:\\.[A-Za-z0-9]+)+';
const segment = '[^/\\s]+';

/** The scope rule as a pattern; environments.v1.schema.json carries the same source. */
export const scopePattern = new RegExp(
  `^/${anyCase('subscriptions')}/(${guid})(?:/${anyCase('resourceGroups')}/(${resourceGroup})(?:/${anyCase('providers')}/${namespace}/${segment}/${segment}(?:/${segment}/${segment})*)?)?$`,
);

export const scopeDescription =
  '/subscriptions/{guid}, /subscriptions/{guid}/resourceGroups/{name}, or /subscriptions/{guid}/resourceGroups/{name}/providers/{namespace}/{type}/{name}…';

export function parseScope(scope: string): ParsedScope | undefined {
  const match = scopePattern.exec(scope);
  if (!match) return undefined;
  const [, subscriptionId, group] = match;
  return group === undefined ? { subscriptionId: subscriptionId! } : { subscriptionId: subscriptionId!, resourceGroup: group };
}

/** ARM ids compare ignoring case; a trailing slash means nothing. */
export function normalizeScope(scope: string): string {
  let normalized = normalizedScopes.get(scope);
  if (normalized === undefined) {
    normalized = scope.replace(/\/+$/, '').toLowerCase();
    if (normalizedScopes.size < NORMALIZED_SCOPES_KEPT) normalizedScopes.set(scope, normalized);
  }
  return normalized;
}

/**
 * A run compares the same few hundred scopes many times over (the escalation guard checks every role against
 * every protected identity: 100 × 52 pairs at 50 environments), so each is normalized once. Bounded, for the
 * long-lived processes (the CLI, the tests) that see more.
 */
const normalizedScopes = new Map<string, string>();
const NORMALIZED_SCOPES_KEPT = 10_000;

export function isWithinScope(inner: string, outer: string): boolean {
  return isWithinNormalizedScope(normalizeScope(inner), normalizeScope(outer));
}

const SLASH = 0x2f;

/** isWithinScope for scopes already passed through normalizeScope. */
export function isWithinNormalizedScope(inner: string, outer: string): boolean {
  // No `${outer}/` string per comparison: the guard makes thousands of them.
  return inner === outer || (inner.length > outer.length && inner.charCodeAt(outer.length) === SLASH && inner.startsWith(outer));
}

export function subscriptionScope(subscriptionId: string): string {
  return `/subscriptions/${subscriptionId}`;
}

/** The `scope` parameter of a resource-group-scoped service connection (lowercase segment, as Azure DevOps writes it). */
export function resourceGroupScope(subscriptionId: string, group: string): string {
  return `/subscriptions/${subscriptionId}/resourcegroups/${group}`;
}

/** A user-assigned identity's resource id (the scope of a role assignment on it). */
export function identityScope(ref: { readonly subscriptionId: string; readonly resourceGroup: string; readonly name: string }): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${ref.name}`;
}
