// Microsoft.Authorization/roleDefinitions: list and get at any scope (`/providers/...` for the tenant,
// `/subscriptions/{s}/...` and below), which also serves get-by-full-id, and PUT of custom roles.
// `$filter` takes `roleName eq '…'` and `type eq 'BuiltInRole'|'CustomRole'`, joined with `and`. The built-in
// roles come from role-definitions.json; custom roles live in the world and are seen at and below their
// assignable scopes.
//
// Reading definitions at the root needs no role (any signed-in caller can); below it, the caller needs
// Microsoft.Authorization/roleDefinitions/read there, as every role in the data grants through */read
// or Microsoft.Authorization/*/read. Writing a custom role needs roleDefinitions/write on every assignable
// scope (learn.microsoft.com: Create or update Azure custom roles using the REST API).
import { queryParam } from '../kernel/http';
import { armError } from './arm-errors';
import { armRoute, type ArmCall } from './arm-pipeline';
import { isAtOrAbove, isGuid, keyOf, normalizeScope, parseScope } from './ids';
import { page } from './paging';
import { builtInRoles, renderRoleDefinition, roleByGuid, roleInWorld, type Permission, type RoleDefinition } from './role-definitions';
import type { AzureRuntime } from './runtime';

const READ = 'Microsoft.Authorization/roleDefinitions/read';
const WRITE = 'Microsoft.Authorization/roleDefinitions/write';
const PROVIDER = '/providers/Microsoft.Authorization/roleDefinitions';

function checkScope(call: ArmCall, scope: string, resourceId: string): string | undefined {
  const parsed = parseScope(scope);
  if (parsed.subscriptionId) call.requireSubscription(parsed.subscriptionId);
  if (scope !== '/') call.authorize(READ, resourceId);
  if (parsed.subscriptionId && parsed.resourceGroup) call.requireResourceGroup(parsed.subscriptionId, parsed.resourceGroup);
  return parsed.subscriptionId;
}

function readFilter(raw: string | undefined): (role: RoleDefinition) => boolean {
  if (raw === undefined || raw.trim() === '') return () => true;
  const tests = raw.split(/\s+and\s+/i).map((term) => {
    const match = /^(roleName|type)\s+eq\s+'([^']*)'$/i.exec(term.trim());
    if (!match) throw armError(400, 'BadRequest', `The filter '${raw}' is not supported. Supported filters are roleName eq '{name}' and type eq '{type}', joined with 'and'.`);
    const [, field, value] = match;
    return field.toLowerCase() === 'rolename'
      ? (role: RoleDefinition) => role.roleName.toLowerCase() === value.toLowerCase()
      : (role: RoleDefinition) => role.roleType.toLowerCase() === value.toLowerCase();
  });
  return (role) => tests.every((test) => test(role));
}

export function registerRoleDefinitionRoutes(runtime: AzureRuntime): void {
  armRoute(runtime, 'GET', `*scope${PROVIDER}`, 'arm.roledefinitions.list', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const subscriptionId = checkScope(call, scope, scope);
    const matches = rolesSeenAt(runtime, scope).filter(readFilter(queryParam(call.req, '$filter')));
    return { status: 200, body: page(call.req, matches.map((role) => renderRoleDefinition(role, subscriptionId)), 1000) };
  });

  armRoute(runtime, 'GET', `*scope${PROVIDER}/:roleDefinitionId`, 'arm.roledefinitions.get', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const { roleDefinitionId } = call.req.params;
    const subscriptionId = checkScope(call, scope, `${scope === '/' ? '' : scope}${PROVIDER}/${roleDefinitionId}`);
    const role = roleByGuid(roleDefinitionId) ?? [...runtime.world.customRoles.values()].find((custom) => keyOf(custom.name) === keyOf(roleDefinitionId) && seenAt(custom, scope));
    if (!role) throw armError(404, 'RoleDefinitionDoesNotExist', `The role definition '${roleDefinitionId}' could not be found.`);
    return { status: 200, body: renderRoleDefinition(role, subscriptionId) };
  });

  armRoute(runtime, 'PUT', `*scope${PROVIDER}/:roleDefinitionId`, 'arm.roledefinitions.put', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const { roleDefinitionId } = call.req.params;
    if (!isGuid(roleDefinitionId)) throw armError(400, 'InvalidRoleDefinitionId', `The role definition ID '${roleDefinitionId}' is not valid.`);
    if (roleByGuid(roleDefinitionId)) throw armError(400, 'RoleDefinitionUpdateNotPermitted', 'Built-in role definitions cannot be changed.'); // [U] code
    const role = customRoleFromBody(call.body<{ properties?: Record<string, unknown> }>()?.properties, roleDefinitionId, scope);
    for (const assignable of role.assignableScopes) {
      const parsed = parseScope(assignable);
      if (parsed.subscriptionId) call.requireSubscription(parsed.subscriptionId);
      call.authorize(WRITE, `${assignable === '/' ? '' : assignable}${PROVIDER}/${roleDefinitionId}`);
    }
    const sameName = [...runtime.world.customRoles.values(), ...builtInRoles()].find((other) => other.roleName.toLowerCase() === role.roleName.toLowerCase() && keyOf(other.name) !== keyOf(roleDefinitionId));
    if (sameName) throw armError(409, 'RoleDefinitionWithSameNameExists', `A custom role with the same name already exists in this directory.`);
    const existed = roleInWorld(runtime.world, roleDefinitionId) !== undefined;
    runtime.world.customRoles.set(keyOf(roleDefinitionId), role);
    return { status: existed ? 200 : 201, body: renderRoleDefinition(role, parseScope(scope).subscriptionId) };
  });
}

/** Custom roles seen at a scope: those assignable at it or above it. */
function seenAt(role: RoleDefinition, scope: string): boolean {
  return role.assignableScopes.some((assignable) => isAtOrAbove(assignable, scope === '/' ? assignable : scope));
}

function rolesSeenAt(runtime: AzureRuntime, scope: string): RoleDefinition[] {
  return [...builtInRoles(), ...[...runtime.world.customRoles.values()].filter((role) => seenAt(role, scope))];
}

function customRoleFromBody(properties: Record<string, unknown> | undefined, guid: string, scope: string): RoleDefinition {
  const bad = (detail: string) => armError(400, 'InvalidRoleDefinition', `The role definition is not valid: ${detail}.`);
  if (!properties) throw bad('properties are required');
  const { roleName, description, permissions, assignableScopes } = properties;
  if (typeof roleName !== 'string' || roleName.trim() === '') throw bad('roleName is required');
  const strings = (value: unknown, field: string): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw bad(`${field} must be an array of strings`);
    return value as string[];
  };
  if (!Array.isArray(permissions) || permissions.length === 0) throw bad('permissions must list at least one block');
  const blocks: Permission[] = permissions.map((block: Record<string, unknown>) => ({
    actions: strings(block?.['actions'], 'actions'),
    notActions: strings(block?.['notActions'], 'notActions'),
    dataActions: strings(block?.['dataActions'], 'dataActions'),
    notDataActions: strings(block?.['notDataActions'], 'notDataActions'),
  }));
  const scopes = strings(assignableScopes, 'assignableScopes').map(normalizeScope);
  if (scopes.length === 0) throw bad('assignableScopes must name at least one scope');
  if (!scopes.some((assignable) => isAtOrAbove(scope, assignable) || isAtOrAbove(assignable, scope))) throw bad(`the scope ${scope} is not related to the assignable scopes`);
  return { name: guid.toLowerCase(), roleName, roleType: 'CustomRole', description: typeof description === 'string' ? description : '', assignableScopes: scopes, permissions: blocks };
}
