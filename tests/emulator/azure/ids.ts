// Resource ids and scopes as ARM spells and compares them.
//
// ARM compares ids case-insensitively but echoes them in a fixed spelling per resource type: resource
// groups as `/subscriptions/{s}/resourceGroups/{rg}`, managed identities with a lowercase
// `resourcegroups` segment (every MSI sample and live `az identity` output does this). Scopes nest by
// path prefix, so "at or above" is a prefix test on whole segments.

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const IDENTITY_TYPE = 'Microsoft.ManagedIdentity/userAssignedIdentities';
export const FIC_TYPE = 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials';

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}

/** Map key for anything ARM treats case-insensitively. */
export function keyOf(id: string): string {
  return id.toLowerCase();
}

export function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function subscriptionResourceId(subscriptionId: string): string {
  return `/subscriptions/${subscriptionId}`;
}

export function resourceGroupResourceId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function identityResourceId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers/${IDENTITY_TYPE}/${name}`;
}

export function ficResourceId(identityId: string, name: string): string {
  return `${identityId}/federatedIdentityCredentials/${name}`;
}

/** `subscriptions//s/` → `/subscriptions/s`; the empty scope is the root `/`. */
export function normalizeScope(raw: string): string {
  const segments = raw.split('/').filter((segment) => segment !== '');
  return '/' + segments.join('/');
}

/** Whether `ancestor` is `scope` itself or one of its parents (`/` is above everything). */
export function isAtOrAbove(ancestor: string, scope: string): boolean {
  const a = keyOf(normalizeScope(ancestor));
  const s = keyOf(normalizeScope(scope));
  return a === '/' || a === s || s.startsWith(a + '/');
}

export interface ParsedScope {
  subscriptionId?: string;
  resourceGroup?: string;
  /** True for `/providers/Microsoft.Management/managementGroups/{name}` and below. */
  managementGroup?: string;
}

/** The subscription and resource group a scope or resource id lives in, when it names them. */
export function parseScope(scope: string): ParsedScope {
  const segments = normalizeScope(scope).split('/').filter((segment) => segment !== '');
  const parsed: ParsedScope = {};
  if (segments[0]?.toLowerCase() === 'subscriptions' && segments[1]) {
    parsed.subscriptionId = segments[1];
    if (segments[2]?.toLowerCase() === 'resourcegroups' && segments[3]) parsed.resourceGroup = segments[3];
  } else if (
    segments[0]?.toLowerCase() === 'providers' &&
    segments[1]?.toLowerCase() === 'microsoft.management' &&
    segments[2]?.toLowerCase() === 'managementgroups' &&
    segments[3]
  ) {
    parsed.managementGroup = segments[3];
  }
  return parsed;
}

/** The last path segment of an id such as `/providers/Microsoft.Authorization/roleDefinitions/{guid}`. */
export function lastSegment(id: string): string {
  const segments = id.split('/').filter((segment) => segment !== '');
  return segments[segments.length - 1] ?? '';
}
