// Guardrails on what the task may grant. Two layers: the spec check refuses the well-known privileged roles by
// name or GUID before anything is read; after observation, every resolved role definition is checked for the
// ability to change authorization itself, which also catches custom roles and renamed built-ins.
import type { RoleDefinition } from '../ports/azure';
import { isWithinNormalizedScope, normalizeScope } from './scopes';

export interface PrivilegedRole {
  readonly name: string;
  readonly guid: string;
}

export const wellKnownPrivilegedRoles: readonly PrivilegedRole[] = [
  { name: 'Owner', guid: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635' },
  { name: 'User Access Administrator', guid: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9' },
  { name: 'Role Based Access Control Administrator', guid: 'f58310d9-a9f6-439a-9e8d-f62e7b41a168' },
];

/** The well-known privileged role a spec value names (by name or GUID, ignoring case), if any. */
export function wellKnownPrivilegedRole(role: string): PrivilegedRole | undefined {
  const value = role.trim().toLowerCase();
  return wellKnownPrivilegedRoles.find((candidate) => candidate.guid === value || candidate.name.toLowerCase() === value);
}

// Operations that change who may do what. A role that may perform any of them can grant itself (or anyone)
// more than the spec says, so it counts as privileged. Probing concrete operations (rather than reasoning
// about wildcard patterns against each other) keeps the check exact for `*`, `Microsoft.Authorization/*`,
// `*/write` and the notActions that carve them out, as in Contributor.
const authorizationWriteOperations = [
  'Microsoft.Authorization/roleAssignments/write',
  'Microsoft.Authorization/roleDefinitions/write',
  'Microsoft.Authorization/elevateAccess/action',
  'Microsoft.Authorization/denyAssignments/write',
  'Microsoft.Authorization/policyAssignments/write',
  'Microsoft.Authorization/policyDefinitions/write',
  'Microsoft.Authorization/policySetDefinitions/write',
  'Microsoft.Authorization/policyExemptions/write',
  'Microsoft.Authorization/locks/write',
  'Microsoft.Authorization/roleManagementPolicies/write',
  'Microsoft.Authorization/roleAssignmentScheduleRequests/write',
  'Microsoft.Authorization/roleEligibilityScheduleRequests/write',
];

/** The Microsoft.Authorization write operations the role definition allows (actions minus notActions). */
export function authorizationWritesAllowed(definition: RoleDefinition): string[] {
  return operationsAllowed(definition, authorizationWriteOperations);
}

// Operations that let a holder become a user-assigned identity: a federated credential trusting an issuer the
// holder controls (then it signs in as the identity), rewriting the identity, or attaching it to a resource
// the holder runs code on (its tokens then come from that resource's metadata endpoint). Contributor, Managed
// Identity Contributor, `*` and `*/write` all allow the first two (learn.microsoft.com: built-in roles,
// Managed Identity Contributor; REST: Federated Identity Credentials - Create Or Update).
const identityTakeoverOperations = [
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write',
  'Microsoft.ManagedIdentity/userAssignedIdentities/write',
  'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action',
];

// The built-in Managed Identity Operator grants assign/action as `userAssignedIdentities/*/assign/action`,
// which a literal `*`-run match against `userAssignedIdentities/assign/action` would miss; probe that
// documented spelling too.
const operationSpellings: Readonly<Record<string, readonly string[]>> = {
  'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action': ['Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action'],
};

/** The operations on user-assigned identities the role allows that let its holder sign in as one of them. */
export function identityTakeoverAllowed(definition: RoleDefinition): string[] {
  return operationsAllowed(definition, identityTakeoverOperations);
}

/**
 * Every role of every environment asks about the same few definitions (Contributor on 50 environments is 50
 * questions about one object): the answer is kept per definition object and list of operations.
 */
const allowedByDefinition = new WeakMap<RoleDefinition, Map<readonly string[], readonly string[]>>();

function operationsAllowed(definition: RoleDefinition, operations: readonly string[]): string[] {
  let answers = allowedByDefinition.get(definition);
  if (!answers) allowedByDefinition.set(definition, (answers = new Map()));
  let allowed = answers.get(operations);
  if (!allowed) answers.set(operations, (allowed = probeOperations(definition, operations)));
  return [...allowed];
}

function probeOperations(definition: RoleDefinition, operations: readonly string[]): string[] {
  return operations.filter((operation) =>
    [operation, ...(operationSpellings[operation] ?? [])].some((spelling) =>
      definition.permissions.some(
        (permission) =>
          permission.actions.some((pattern) => operationMatches(pattern, spelling)) &&
          !permission.notActions.some((pattern) => operationMatches(pattern, spelling)),
      ),
    ),
  );
}

/** Something a role with identity takeover operations must not cover. */
export interface ProtectedIdentityScope {
  /** An identity's resource id, or an identity resource group's scope. */
  readonly scope: string;
  /** For messages: `the bootstrap identity id-mic-bootstrap`, `identity id-ado-prod (environment prod)`… */
  readonly label: string;
  /** A resource group: a role scope inside it (a resource in it) also counts, since any resource there may be an identity. */
  readonly resourceGroup: boolean;
}

/** The protected identities and groups a role scope exposes: it contains them, or (for a group) lies inside it. */
export function exposedByScope(roleScope: string, protectedScopes: readonly ProtectedIdentityScope[]): ProtectedIdentityScope[] {
  // Every role is checked against every protected scope: normalize the role's once, not per comparison.
  const role = normalizeScope(roleScope);
  return protectedScopes.filter((item) => {
    const scope = normalizeScope(item.scope);
    return isWithinNormalizedScope(scope, role) || (item.resourceGroup && isWithinNormalizedScope(role, scope));
  });
}

/** ARM action patterns: case-insensitive, `*` matches any run of characters (slashes included). */
export function operationMatches(pattern: string, operation: string): boolean {
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    const source = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    compiled = new RegExp(`^${source}$`, 'i');
    if (compiledPatterns.size < COMPILED_PATTERNS_KEPT) compiledPatterns.set(pattern, compiled);
  }
  return compiled.test(operation);
}

/**
 * Every role assignment checks the same few role definitions' actions: each pattern is compiled once, not per
 * check (docs/performance.md). Bounded, for long-lived processes that meet many custom roles.
 */
const compiledPatterns = new Map<string, RegExp>();
const COMPILED_PATTERNS_KEPT = 5_000;

/** An identity holds at most this many federated credentials (Entra limit); one per connection. */
export const federatedCredentialLimit = 20;
