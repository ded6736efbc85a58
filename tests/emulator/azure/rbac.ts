// Azure RBAC as ARM evaluates it for a control-plane call: the caller's role assignments at or above the
// target scope, each granting the action when one of its role's permission blocks lists it under
// `actions` (wildcards, case-insensitive) and not under `notActions`, and when its ABAC condition (if
// any) holds for the request. Deny assignments and group membership are not modelled.
import { evaluateCondition, parseCondition, type AttributeSource, type ConditionNode } from './abac-condition';
import { isAtOrAbove, keyOf } from './ids';
import { roleInWorld, type Permission, type RoleDefinition } from './role-definitions';
import type { AzureWorld, RoleAssignment } from './world';

const patternCache = new Map<string, RegExp>();
/** Conditions were validated when their assignment was written; parse each text once. */
const conditionCache = new Map<string, ConditionNode>();

function parsedCondition(text: string): ConditionNode {
  let node = conditionCache.get(text);
  if (!node) {
    node = parseCondition(text);
    conditionCache.set(text, node);
  }
  return node;
}

/** Whether an action pattern such as `Microsoft.Authorization/*\/Write` or `*\/read` covers an action. */
export function actionMatches(pattern: string, action: string): boolean {
  let regex = patternCache.get(pattern);
  if (!regex) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${body}$`, 'i');
    patternCache.set(pattern, regex);
  }
  return regex.test(action);
}

function permissionAllows(permission: Permission, action: string): boolean {
  return permission.actions.some((pattern) => actionMatches(pattern, action)) && !permission.notActions.some((pattern) => actionMatches(pattern, action));
}

export function roleAllows(role: RoleDefinition, action: string): boolean {
  return role.permissions.some((permission) => permissionAllows(permission, action));
}

export interface AccessRequest {
  principalId: string;
  action: string;
  /** The resource the action targets (its full id), e.g. a role assignment's id. */
  resourceId: string;
  /** `@Request[...]` and `@Resource[...]` attributes for ABAC conditions. */
  request?: AttributeSource;
  resource?: AttributeSource;
}

export type AccessDecision = { allowed: true } | { allowed: false; conditionNotFulfilled: boolean };

export function assignmentsOf(world: AzureWorld, principalId: string): RoleAssignment[] {
  const wanted = keyOf(principalId);
  return [...world.roleAssignments.values()].filter((assignment) => keyOf(assignment.principalId) === wanted);
}

export function checkAccess(world: AzureWorld, access: AccessRequest): AccessDecision {
  let conditionNotFulfilled = false;
  for (const assignment of assignmentsOf(world, access.principalId)) {
    if (!isAtOrAbove(assignment.scope, access.resourceId)) continue;
    const role = roleInWorld(world, assignment.roleDefinitionGuid);
    if (!role || !roleAllows(role, access.action)) continue;
    if (!assignment.condition) return { allowed: true };
    const holds = evaluateCondition(parsedCondition(assignment.condition), {
      action: access.action,
      attributes: { Request: access.request, Resource: access.resource },
    });
    if (holds) return { allowed: true };
    conditionNotFulfilled = true;
  }
  return { allowed: false, conditionNotFulfilled };
}

/** Whether the principal holds any role assignment at, above or below the scope (ARM's visibility test). */
export function hasAnyAssignmentAround(world: AzureWorld, principalId: string, scope: string): boolean {
  return assignmentsOf(world, principalId).some((assignment) => isAtOrAbove(assignment.scope, scope) || isAtOrAbove(scope, assignment.scope));
}

/** The attributes ABAC conditions read from a role assignment (requested or existing). */
export function roleAssignmentAttributes(fields: { roleDefinitionGuid?: string; principalId?: string; principalType?: string }): AttributeSource {
  return {
    'Microsoft.Authorization/roleAssignments:RoleDefinitionId': fields.roleDefinitionGuid ? [fields.roleDefinitionGuid] : undefined,
    'Microsoft.Authorization/roleAssignments:PrincipalId': fields.principalId ? [fields.principalId] : undefined,
    'Microsoft.Authorization/roleAssignments:PrincipalType': fields.principalType ? [fields.principalType] : undefined,
  };
}
