// Microsoft.Authorization/roleDefinitions: list and get at any scope (`/providers/...` for the tenant,
// `/subscriptions/{s}/...` and below), which also serves get-by-full-id. `$filter` takes
// `roleName eq '…'` and `type eq 'BuiltInRole'|'CustomRole'`, joined with `and`. Only the built-in roles
// in role-definitions.json exist; custom roles are not modelled.
//
// Reading definitions at the root needs no role (any signed-in caller can); below it, the caller needs
// Microsoft.Authorization/roleDefinitions/read there, as every role in the data grants through */read
// or Microsoft.Authorization/*/read.
import { queryParam } from '../kernel/http';
import { armError } from './arm-errors';
import { armRoute, type ArmCall } from './arm-pipeline';
import { normalizeScope, parseScope } from './ids';
import { page } from './paging';
import { builtInRoles, renderRoleDefinition, roleByGuid, type RoleDefinition } from './role-definitions';
import type { AzureRuntime } from './runtime';

const READ = 'Microsoft.Authorization/roleDefinitions/read';
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
    const matches = builtInRoles().filter(readFilter(queryParam(call.req, '$filter')));
    return { status: 200, body: page(call.req, matches.map((role) => renderRoleDefinition(role, subscriptionId)), 1000) };
  });

  armRoute(runtime, 'GET', `*scope${PROVIDER}/:roleDefinitionId`, 'arm.roledefinitions.get', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const { roleDefinitionId } = call.req.params;
    const subscriptionId = checkScope(call, scope, `${scope === '/' ? '' : scope}${PROVIDER}/${roleDefinitionId}`);
    const role = roleByGuid(roleDefinitionId);
    if (!role) throw armError(404, 'RoleDefinitionDoesNotExist', `The role definition '${roleDefinitionId}' could not be found.`);
    return { status: 200, body: renderRoleDefinition(role, subscriptionId) };
  });
}
