// Microsoft.Authorization/roleAssignments at any scope (`{scope}/providers/Microsoft.Authorization/
// roleAssignments/{name}`, which is also the by-id form), and lists with `$filter`:
//   atScope()                → assignments at or above the scope
//   principalId eq '{id}'    → that principal's assignments at, above and below the scope
//   assignedTo('{id}')       → the same (group membership is not modelled)
//   no filter                → all assignments at, above and below the scope
// Terms may be joined with `and`.
//
// Write rules, in ARM's order: a GUID name; a parsable body (a condition must parse, conditionVersion
// "2.0"); RBAC and ABAC on the caller; the role definition exists; an existing name may not change its
// principal, role or scope (400 RoleAssignmentUpdateNotPermitted) but an identical re-PUT is a 200; the
// same principal + role + scope under another name is 409 RoleAssignmentExists; without principalType
// the principal must be in the directory and replicated (400 PrincipalNotFound), with it ARM skips the
// lookup. `@Request` ABAC attributes come from the body (principalType falls back to the directory's
// type when the principal is known and replicated); `@Resource` ones from the existing assignment.
import { HttpError, queryParam } from '../kernel/http';
import { ConditionSyntaxError, parseCondition } from './abac-condition';
import { armError, invalidRequestContent } from './arm-errors';
import { armRoute, type ArmCall } from './arm-pipeline';
import { isAtOrAbove, isGuid, keyOf, lastSegment, normalizeScope, parseScope, sameId } from './ids';
import { page } from './paging';
import { roleAssignmentAttributes } from './rbac';
import { roleDefinitionId, roleInWorld } from './role-definitions';
import type { AzureRuntime } from './runtime';
import { PRINCIPAL_TYPES, type AzureWorld, type PrincipalType, type RoleAssignment } from './world';

const READ = 'Microsoft.Authorization/roleAssignments/read';
const WRITE = 'Microsoft.Authorization/roleAssignments/write';
const DELETE = 'Microsoft.Authorization/roleAssignments/delete';
const PROVIDER = '/providers/Microsoft.Authorization/roleAssignments';

export function roleAssignmentResourceId(scope: string, name: string): string {
  return `${scope === '/' ? '' : scope}${PROVIDER}/${name}`;
}

/** As ARM answers: every property present, unset ones null, the role definition id subscription-scoped. */
export function renderRoleAssignment(assignment: RoleAssignment): Record<string, unknown> {
  return {
    properties: {
      roleDefinitionId: roleDefinitionId(assignment.roleDefinitionGuid, parseScope(assignment.scope).subscriptionId),
      principalId: assignment.principalId,
      principalType: assignment.principalType,
      scope: assignment.scope,
      condition: assignment.condition,
      conditionVersion: assignment.conditionVersion,
      createdOn: assignment.createdOn,
      updatedOn: assignment.updatedOn,
      createdBy: assignment.createdBy,
      updatedBy: assignment.updatedBy,
      delegatedManagedIdentityResourceId: assignment.delegatedManagedIdentityResourceId,
      description: assignment.description,
    },
    id: roleAssignmentResourceId(assignment.scope, assignment.name),
    type: 'Microsoft.Authorization/roleAssignments',
    name: assignment.name,
  };
}

export interface RoleAssignmentInput {
  scope: string;
  name: string;
  roleDefinitionGuid: string;
  principalId: string;
  principalType?: PrincipalType;
  description: string | null;
  condition: string | null;
  conditionVersion: string | null;
  delegatedManagedIdentityResourceId: string | null;
}

function invalidCondition(): HttpError {
  // The documented message; the code is the emulator's (Azure's code for it is not published).
  return armError(400, 'InvalidConditionFormat', 'The given role assignment condition is invalid.');
}

/** Parses and validates a PUT body (`{properties:{roleDefinitionId, principalId, ...}}`). */
export function readRoleAssignmentBody(scope: string, name: string, body: unknown): RoleAssignmentInput {
  const properties = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
  if (!properties || typeof properties !== 'object') throw invalidRequestContent("Required property 'properties' not found in JSON.");
  const optionalString = (field: string): string | null => {
    const value = properties[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw invalidRequestContent(`Property '${field}' must be a string. Path 'properties.${field}'.`);
    return value;
  };
  const rawRoleDefinitionId = optionalString('roleDefinitionId');
  if (!rawRoleDefinitionId) throw invalidRequestContent("Required property 'roleDefinitionId' not found in JSON. Path 'properties'.");
  const roleDefinitionGuid = lastSegment(rawRoleDefinitionId);
  if (!isGuid(roleDefinitionGuid)) throw armError(400, 'InvalidRoleDefinitionId', `The role definition ID '${rawRoleDefinitionId}' is not valid.`);
  const principalId = optionalString('principalId');
  if (!principalId || !isGuid(principalId)) throw armError(400, 'InvalidPrincipalId', 'A valid principal ID must be provided for role assignment.');
  const rawPrincipalType = optionalString('principalType');
  const principalType = rawPrincipalType === null ? undefined : PRINCIPAL_TYPES.find((type) => type.toLowerCase() === rawPrincipalType.toLowerCase());
  if (rawPrincipalType !== null && !principalType) {
    throw invalidRequestContent(`Error converting value "${rawPrincipalType}" to type 'PrincipalType'. Path 'properties.principalType'.`);
  }
  const condition = optionalString('condition');
  let conditionVersion = optionalString('conditionVersion');
  if (condition !== null) {
    // Azure documents 2.0 as the default and the only accepted version.
    conditionVersion ??= '2.0';
    if (conditionVersion !== '2.0') throw invalidCondition();
    try {
      parseCondition(condition);
    } catch (error) {
      if (error instanceof ConditionSyntaxError) throw invalidCondition();
      throw error;
    }
  }
  return {
    scope,
    name,
    roleDefinitionGuid: roleDefinitionGuid.toLowerCase(),
    principalId,
    principalType,
    description: optionalString('description'),
    condition,
    conditionVersion,
    delegatedManagedIdentityResourceId: optionalString('delegatedManagedIdentityResourceId'),
  };
}

function hexId(name: string): string {
  return name.replace(/-/g, '').toLowerCase();
}

function isReplicated(runtime: AzureRuntime, createdAt: number): boolean {
  return createdAt === 0 || Date.now() - createdAt >= runtime.ctx.settings.principalReplicationMs;
}

/** The principal type ABAC sees for a request: the body's, else the directory's once replicated. */
function requestedPrincipalType(runtime: AzureRuntime, input: RoleAssignmentInput): string | undefined {
  if (input.principalType) return input.principalType;
  const principal = runtime.world.principal(input.principalId);
  return principal && isReplicated(runtime, principal.createdAt) ? principal.type : undefined;
}

/**
 * Applies a validated, authorized write: the rules after RBAC. Shared by the PUT route and the seed.
 * Returns 201 for a new assignment, 200 for an update or an identical re-PUT.
 */
export function applyRoleAssignment(runtime: AzureRuntime, input: RoleAssignmentInput, actor: string | null, system: boolean): { status: 200 | 201; assignment: RoleAssignment } {
  const { world } = runtime;
  if (!roleInWorld(world, input.roleDefinitionGuid)) {
    throw armError(400, 'RoleDefinitionDoesNotExist', `The specified role definition with ID '${input.roleDefinitionGuid}' does not exist.`);
  }
  const now = new Date().toISOString();
  const existing = world.roleAssignmentByName(input.name);
  if (existing) {
    const same = sameId(existing.scope, input.scope) && sameId(existing.principalId, input.principalId) && sameId(existing.roleDefinitionGuid, input.roleDefinitionGuid);
    if (!same) throw armError(400, 'RoleAssignmentUpdateNotPermitted', 'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.');
    const changed = existing.description !== input.description || existing.condition !== input.condition || existing.conditionVersion !== input.conditionVersion;
    if (changed) Object.assign(existing, { description: input.description, condition: input.condition, conditionVersion: input.conditionVersion, updatedOn: now, updatedBy: actor });
    return { status: 200, assignment: existing };
  }
  const duplicate = [...world.roleAssignments.values()].find(
    (assignment) => sameId(assignment.scope, input.scope) && sameId(assignment.principalId, input.principalId) && sameId(assignment.roleDefinitionGuid, input.roleDefinitionGuid),
  );
  if (duplicate) {
    throw armError(409, 'RoleAssignmentExists', `The role assignment already exists. The ID of the existing role assignment is ${hexId(duplicate.name)}.`);
  }
  const principal = world.principal(input.principalId);
  const known = principal !== undefined && (system || isReplicated(runtime, principal.createdAt));
  if (!input.principalType && !known) {
    throw armError(
      400,
      'PrincipalNotFound',
      `Principal ${hexId(input.principalId)} does not exist in the directory ${world.tenant.id}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group. See https://aka.ms/docs-principaltype`,
    );
  }
  if (input.principalType && known && principal.type !== input.principalType) {
    throw armError(400, 'UnmatchedPrincipalType', `The PrincipalId '${hexId(input.principalId)}' has type '${principal.type}', which is different from specified PrincipalType '${input.principalType}'.`);
  }
  const assignment: RoleAssignment = {
    name: input.name,
    scope: input.scope,
    roleDefinitionGuid: input.roleDefinitionGuid,
    principalId: input.principalId,
    principalType: input.principalType ?? principal!.type,
    description: input.description,
    condition: input.condition,
    conditionVersion: input.conditionVersion,
    delegatedManagedIdentityResourceId: input.delegatedManagedIdentityResourceId,
    createdOn: now,
    updatedOn: now,
    createdBy: actor,
    updatedBy: actor,
  };
  world.putRoleAssignment(assignment);
  return { status: 201, assignment };
}

/** Subscription first (404 before 403), then the caller's permission, then the resource group. */
function checkScope(call: ArmCall, scope: string, action: string, resourceId: string, attributes?: Parameters<ArmCall['authorize']>[2]): void {
  const parsed = parseScope(scope);
  if (parsed.subscriptionId) call.requireSubscription(parsed.subscriptionId);
  call.authorize(action, resourceId, attributes);
  if (parsed.subscriptionId && parsed.resourceGroup) call.requireResourceGroup(parsed.subscriptionId, parsed.resourceGroup);
}

type FilterTerm = { kind: 'atScope' } | { kind: 'principal'; principalId: string };

function readFilter(raw: string | undefined): FilterTerm[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(/\s+and\s+/i).map((term): FilterTerm => {
    const text = term.trim();
    if (/^atScope\(\)$/i.test(text)) return { kind: 'atScope' };
    const principal = /^principalId\s+eq\s+'([^']+)'$/i.exec(text) ?? /^assignedTo\('([^']+)'\)$/i.exec(text);
    if (principal) return { kind: 'principal', principalId: principal[1] };
    throw armError(400, 'BadRequest', `The filter '${raw}' is not supported. Supported filters are atScope(), principalId eq '{id}' and assignedTo('{id}'), joined with 'and'.`);
  });
}

export function listRoleAssignments(world: AzureWorld, scope: string, filter: FilterTerm[]): RoleAssignment[] {
  const atScopeOnly = filter.some((term) => term.kind === 'atScope');
  const principals = filter.flatMap((term) => (term.kind === 'principal' ? [keyOf(term.principalId)] : []));
  return [...world.roleAssignments.values()].filter((assignment) => {
    if (principals.some((principalId) => principalId !== keyOf(assignment.principalId))) return false;
    const atOrAbove = isAtOrAbove(assignment.scope, scope);
    return atScopeOnly ? atOrAbove : atOrAbove || isAtOrAbove(scope, assignment.scope);
  });
}

export function registerRoleAssignmentRoutes(runtime: AzureRuntime): void {
  const { world } = runtime;
  const one = `*scope${PROVIDER}/:name`;

  armRoute(runtime, 'PUT', one, 'arm.roleassignments.put', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const { name } = call.req.params;
    if (!isGuid(name)) throw armError(400, 'InvalidRoleAssignmentId', `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`);
    const parsed = parseScope(scope);
    if (parsed.subscriptionId) call.requireSubscription(parsed.subscriptionId);
    const input = readRoleAssignmentBody(scope, name, call.body());
    const existing = world.roleAssignmentByName(name);
    checkScope(call, scope, WRITE, roleAssignmentResourceId(scope, name), {
      request: roleAssignmentAttributes({ ...input, principalType: requestedPrincipalType(runtime, input) }),
      resource: existing ? roleAssignmentAttributes(existing) : undefined,
    });
    const { status, assignment } = applyRoleAssignment(runtime, input, call.actor, call.req.system === true);
    return { status, body: renderRoleAssignment(assignment) };
  });

  armRoute(runtime, 'GET', one, 'arm.roleassignments.get', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const { name } = call.req.params;
    checkScope(call, scope, READ, roleAssignmentResourceId(scope, name));
    const assignment = world.roleAssignmentByName(name);
    if (!assignment || !sameId(assignment.scope, scope)) throw armError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
    return { status: 200, body: renderRoleAssignment(assignment) };
  });

  armRoute(runtime, 'DELETE', one, 'arm.roleassignments.delete', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const { name } = call.req.params;
    const found = world.roleAssignmentByName(name);
    const assignment = found && sameId(found.scope, scope) ? found : undefined;
    checkScope(call, scope, DELETE, roleAssignmentResourceId(scope, name), { resource: assignment ? roleAssignmentAttributes(assignment) : undefined });
    if (!assignment) return { status: 204 };
    world.deleteRoleAssignment(assignment.name);
    return { status: 200, body: renderRoleAssignment(assignment) };
  });

  armRoute(runtime, 'GET', `*scope${PROVIDER}`, 'arm.roleassignments.list', (call) => {
    const scope = normalizeScope(call.req.params.scope);
    const filter = readFilter(queryParam(call.req, '$filter'));
    checkScope(call, scope, READ, scope);
    return { status: 200, body: page(call.req, listRoleAssignments(world, scope, filter).map(renderRoleAssignment), 1000) };
  });
}
