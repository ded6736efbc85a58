// Naming rules and the names the task derives. Every rule here is public (docs/environments-spec.md) and
// every derived name must stay stable across releases: changing one makes a rerun write a second copy.
import { createHash } from 'node:crypto';
import { normalizeScope } from './scopes';
import { uuidV5 } from './uuid-v5';

export interface NameRule {
  readonly pattern: RegExp;
  /** What is allowed, in words, for error messages. */
  readonly description: string;
}

export const guidRule: NameRule = {
  pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  description: 'a GUID like 00000000-0000-0000-0000-000000000000',
};

// Environment names end up in identity names, output variable names and log prefixes: keep them plain.
export const environmentNameRule: NameRule = {
  pattern: /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
  description: '1 to 40 lowercase letters, digits and hyphens, starting and ending with a letter or digit',
};

// ARM's own rule for userAssignedIdentities (resource-name-rules).
export const identityNameRule: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$/,
  description: '3 to 128 letters, digits, hyphens and underscores, starting with a letter or digit',
};

export const namePrefixRule: NameRule = {
  pattern: /^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,63})?$/,
  description: 'up to 64 letters, digits, hyphens and underscores, starting with a letter or digit (or empty)',
};

// ARM allows Unicode letters too; ASCII keeps names portable across scripts and shells.
export const resourceGroupNameRule: NameRule = {
  pattern: /^[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]$/,
  description: '1 to 90 letters, digits, underscores, hyphens, periods and parentheses, not ending with a period',
};

// Stricter than Azure DevOps on purpose: connection names are typed into YAML, derive federated credential
// names and output variable names, and must survive all three without quoting surprises.
export const connectionNameRule: NameRule = {
  pattern: /^[A-Za-z0-9](?:[A-Za-z0-9 ._()-]{0,126}[A-Za-z0-9_()-])?$/,
  description: '1 to 128 letters, digits, spaces, periods, underscores, hyphens and parentheses, starting with a letter or digit and not ending with a space or period',
};

export const locationRule: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9 ]{0,49}$/,
  description: 'an Azure region name like westeurope',
};

export const projectNameRule: NameRule = {
  pattern: /^[^\\/:*?"<>|;#${},+=[\]\u0000-\u001f.][^\\/:*?"<>|;#${},+=[\]\u0000-\u001f]{0,63}$/,
  description: 'an Azure DevOps project name (1 to 64 characters, none of \\ / : * ? " < > | ; # $ { } , + = [ ])',
};

/** The default identity name prefix: specific enough not to adopt an unrelated identity named after the environment. */
export const defaultIdentityNamePrefix = 'id-ado-';

/** Federated credential names: ARM's rule for userAssignedIdentities/federatedIdentityCredentials. */
export const federatedCredentialNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$/;

/** Every credential the task names starts with it: on an owned identity, it marks the credential as ours. */
export const federatedCredentialPrefix = 'azdo-';
const federatedCredentialMaxLength = 120;

/**
 * The name of the federated credential that backs a connection: `azdo-{connection name}` when that is a
 * valid credential name, otherwise the name with every other character replaced by `-`, shortened to fit,
 * plus 8 hex digits of a hash of the connection name (so `app dev` and `app-dev` do not collide).
 * Case-insensitive input (hashing the lowercased name) because ARM names and connection names both are.
 */
export function federatedCredentialName(connectionName: string): string {
  const safe = connectionName.replace(/[^A-Za-z0-9_-]+/g, '-');
  const plain = `${federatedCredentialPrefix}${safe}`;
  if (safe === connectionName && plain.length <= federatedCredentialMaxLength) return plain;
  const hash = createHash('sha256').update(connectionName.toLowerCase(), 'utf8').digest('hex').slice(0, 8);
  const room = federatedCredentialMaxLength - federatedCredentialPrefix.length - hash.length - 1;
  return `${federatedCredentialPrefix}${safe.slice(0, room)}-${hash}`;
}

// Fixed forever: changing it renames every role assignment the task ever made.
const roleAssignmentNamespace = '4b61dd07-00ed-48d9-bce0-c74d4d59b146';

/**
 * The role assignment name (a GUID) for a principal, role and scope: UUID v5 of the normalized scope (lowercase,
 * no trailing slash), the role definition GUID and the principal id, all lowercased, so that every run — and
 * every spelling of the same scope — names the same assignment. Names must be unique tenant-wide, hence the scope.
 */
export function roleAssignmentName(scope: string, roleDefinitionGuid: string, principalId: string): string {
  return uuidV5(`${normalizeScope(scope)}|${roleDefinitionGuid.toLowerCase()}|${principalId.toLowerCase()}`, roleAssignmentNamespace);
}

/** The GUID at the end of a role definition id (or the GUID itself). */
export function roleDefinitionGuidOf(roleDefinitionId: string): string {
  return (roleDefinitionId.split('/').pop() ?? roleDefinitionId).toLowerCase();
}

/** One grant — a role (its definition GUID or id) on a scope — as a key that ignores case and id form. */
export function grantKey(roleDefinition: string, scope: string): string {
  return `${roleDefinitionGuidOf(roleDefinition)}|${normalizeScope(scope)}`;
}

/** The subscription-qualified role definition id ARM expects in a role assignment. */
export function roleDefinitionIdFor(subscriptionId: string, roleDefinitionGuid: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleDefinitionGuid.toLowerCase()}`;
}

/**
 * A name made safe for an Azure Pipelines variable: letters, digits and underscores only. Output variables
 * put the fixed word first (`identityClientId_dev`) because variable names may not start with `endpoint`,
 * `input`, `secret`, `path` or `securefile`, and environment or connection names could.
 */
export function variableNamePart(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function normalizeLocation(location: string): string {
  return location.toLowerCase().replace(/\s+/g, '');
}

/** ARM ids and names compare ignoring case. */
export function identityKey(ref: { subscriptionId: string; resourceGroup: string; name: string }): string {
  return `/subscriptions/${ref.subscriptionId}/resourcegroups/${ref.resourceGroup}/providers/microsoft.managedidentity/userassignedidentities/${ref.name}`.toLowerCase();
}

/** The words for a check kind, as Azure DevOps' Approvals and checks page names them. */
export function checkLabel(kind: 'approval' | 'exclusiveLock' | 'requiredTemplate' | 'businessHours'): string {
  return { approval: 'Approvals', exclusiveLock: 'Exclusive lock', requiredTemplate: 'Required template', businessHours: 'Business hours' }[kind];
}
