// The built-in role definitions the emulator knows, read from role-definitions.json (copied from the
// published built-in role reference; see its `source` field), and how ARM renders them.
import data from './role-definitions.json';
import { keyOf, subscriptionResourceId } from './ids';

export interface Permission {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface RoleDefinition {
  /** The role's GUID. */
  name: string;
  roleName: string;
  roleType: string;
  description: string;
  assignableScopes: string[];
  permissions: Permission[];
}

export const ROLE_DEFINITIONS_PROVIDER = '/providers/Microsoft.Authorization/roleDefinitions';

const roles: readonly RoleDefinition[] = data.roles;
const byGuid = new Map(roles.map((role) => [keyOf(role.name), role]));

export function builtInRoles(): readonly RoleDefinition[] {
  return roles;
}

export function roleByGuid(guid: string): RoleDefinition | undefined {
  return byGuid.get(keyOf(guid));
}

/** A built-in role, or one of the world's custom roles. */
export function roleInWorld(world: { readonly customRoles: ReadonlyMap<string, RoleDefinition> }, guid: string): RoleDefinition | undefined {
  return roleByGuid(guid) ?? world.customRoles.get(keyOf(guid));
}

export function roleByName(roleName: string): RoleDefinition | undefined {
  return roles.find((role) => role.roleName.toLowerCase() === roleName.toLowerCase());
}

/**
 * A role definition's id as ARM writes it for a scope: subscription-scoped at or below a subscription,
 * tenant-scoped (`/providers/...`) at the root or a management group.
 */
export function roleDefinitionId(guid: string, subscriptionId: string | undefined): string {
  return subscriptionId ? `${subscriptionResourceId(subscriptionId)}${ROLE_DEFINITIONS_PROVIDER}/${guid}` : `${ROLE_DEFINITIONS_PROVIDER}/${guid}`;
}

export function renderRoleDefinition(role: RoleDefinition, subscriptionId: string | undefined): unknown {
  return {
    id: roleDefinitionId(role.name, subscriptionId),
    name: role.name,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: role.roleName,
      type: role.roleType,
      description: role.description,
      assignableScopes: role.assignableScopes,
      permissions: role.permissions,
    },
  };
}
