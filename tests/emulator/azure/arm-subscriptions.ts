// Microsoft.Resources: tenants, subscriptions and resource groups.
//
// A subscription is visible to a caller holding any role assignment at, above or below it; that is
// what `GET /subscriptions` lists (az login's first ARM call) and what `GET /subscriptions/{id}` needs,
// else 403 AuthorizationFailed for Microsoft.Resources/subscriptions/read. Resource-group calls are
// authorized per action. Deleting a resource group is answered synchronously (200), not as ARM's
// long-running 202, and takes its identities and the role assignments at or below it along.
import { armError } from './arm-errors';
import { armRoute, type ArmCall } from './arm-pipeline';
import { isAtOrAbove, keyOf, resourceGroupResourceId, subscriptionResourceId } from './ids';
import { page } from './paging';
import { hasAnyAssignmentAround } from './rbac';
import type { AzureRuntime } from './runtime';
import type { AzureWorld, ResourceGroup, Subscription } from './world';

const RG_READ = 'Microsoft.Resources/subscriptions/resourceGroups/read';
const RG_WRITE = 'Microsoft.Resources/subscriptions/resourceGroups/write';
const RG_DELETE = 'Microsoft.Resources/subscriptions/resourceGroups/delete';
const SUBSCRIPTION_READ = 'Microsoft.Resources/subscriptions/read';

export function renderSubscription(world: AzureWorld, subscription: Subscription): Record<string, unknown> {
  return {
    id: subscriptionResourceId(subscription.id),
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: subscription.id,
    tenantId: world.tenant.id,
    displayName: subscription.displayName,
    state: subscription.state,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
    ...(subscription.tags ? { tags: subscription.tags } : {}),
  };
}

export function renderResourceGroup(group: ResourceGroup): Record<string, unknown> {
  return {
    id: resourceGroupResourceId(group.subscriptionId, group.name),
    name: group.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: group.location,
    ...(group.tags ? { tags: group.tags } : {}),
    ...(group.managedBy ? { managedBy: group.managedBy } : {}),
    properties: { provisioningState: 'Succeeded' },
  };
}

/** ARM stores locations as lowercase names without spaces (`West Europe` → `westeurope`). */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

export function validateTags(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  const valid = typeof tags === 'object' && !Array.isArray(tags) && Object.values(tags as object).every((value) => typeof value === 'string');
  if (!valid) throw armError(400, 'InvalidRequestContent', "The request content was invalid and could not be deserialized: 'tags must be an object whose values are strings'.");
  return { ...(tags as Record<string, string>) };
}

/** ARM's resource-group name rule: 1-90 letters, digits, `-`, `.`, `(`, `)`, `_`, not ending in `.`. */
export function validateResourceGroupName(name: string): void {
  const invalid = [...new Set(name.replace(/[\p{L}\p{N}\-._()]/gu, ''))].join('');
  if (invalid !== '' || name.length > 90 || name.endsWith('.')) {
    throw armError(
      400,
      'InvalidResourceGroup',
      `The provided resource group name '${name}' has these invalid characters: '${invalid || (name.endsWith('.') ? '.' : '')}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.`,
    );
  }
}

/** Subscription, name, then the caller's permission on the request's path (what ARM names when it refuses). */
function resourceGroupOf(call: ArmCall, action: string): { subscriptionId: string; name: string } {
  const { subscriptionId, resourceGroup } = call.req.params;
  call.requireSubscription(subscriptionId);
  validateResourceGroupName(resourceGroup);
  call.authorize(action, call.req.path);
  return { subscriptionId, name: resourceGroup };
}

/** Removes a resource group with what lives in it: identities (and their principals) and role assignments. */
export function deleteResourceGroup(world: AzureWorld, group: ResourceGroup): void {
  const scope = resourceGroupResourceId(group.subscriptionId, group.name);
  for (const identity of [...world.identities.values()]) {
    if (keyOf(identity.subscriptionId) === keyOf(group.subscriptionId) && keyOf(identity.resourceGroup) === keyOf(group.name)) world.deleteIdentity(identity);
  }
  for (const assignment of [...world.roleAssignments.values()]) if (isAtOrAbove(scope, assignment.scope)) world.deleteRoleAssignment(assignment.name);
  world.resourceGroups.delete(keyOf(scope));
}

export function registerSubscriptionRoutes(runtime: AzureRuntime): void {
  const { world } = runtime;
  const sub = '/subscriptions/:subscriptionId';
  const rg = `${sub}/resourcegroups/:resourceGroup`;

  armRoute(runtime, 'GET', '/tenants', 'arm.tenants.list', () => ({
    status: 200,
    body: {
      value: [
        {
          id: `/tenants/${world.tenant.id}`,
          tenantId: world.tenant.id,
          countryCode: 'US',
          displayName: world.tenant.displayName,
          domains: [world.tenant.defaultDomain],
          tenantCategory: 'Home',
          defaultDomain: world.tenant.defaultDomain,
          tenantType: 'AAD',
        },
      ],
    },
  }));

  armRoute(runtime, 'GET', '/subscriptions', 'arm.subscriptions.list', (call) => {
    const visible = [...world.subscriptions.values()].filter((subscription) => !call.caller || hasAnyAssignmentAround(world, call.caller.principalId, subscriptionResourceId(subscription.id)));
    return { status: 200, body: page(call.req, visible.map((subscription) => renderSubscription(world, subscription)), 100) };
  });

  armRoute(runtime, 'GET', sub, 'arm.subscriptions.get', (call) => {
    const subscription = call.requireSubscription(call.req.params.subscriptionId);
    call.requireVisibility(SUBSCRIPTION_READ, subscriptionResourceId(subscription.id));
    return { status: 200, body: renderSubscription(world, subscription) };
  });

  armRoute(runtime, 'GET', `${sub}/resourcegroups`, 'arm.resourcegroups.list', (call) => {
    const subscription = call.requireSubscription(call.req.params.subscriptionId);
    call.requireVisibility(RG_READ, subscriptionResourceId(subscription.id));
    const groups = [...world.resourceGroups.values()].filter(
      (group) => keyOf(group.subscriptionId) === keyOf(subscription.id) && call.can(RG_READ, resourceGroupResourceId(group.subscriptionId, group.name)),
    );
    return { status: 200, body: page(call.req, groups.map(renderResourceGroup), 100) };
  });

  armRoute(runtime, 'PUT', rg, 'arm.resourcegroups.put', (call) => {
    const target = resourceGroupOf(call, RG_WRITE);
    const body = call.body<{ location?: unknown; tags?: unknown; managedBy?: unknown }>() ?? {};
    if (typeof body.location !== 'string' || body.location.trim() === '') {
      throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    }
    const existing = world.resourceGroup(target.subscriptionId, target.name);
    const location = normalizeLocation(body.location);
    if (existing && existing.location !== location) {
      throw armError(409, 'InvalidResourceGroupLocation', `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`);
    }
    const group: ResourceGroup = {
      subscriptionId: existing?.subscriptionId ?? target.subscriptionId,
      name: existing?.name ?? target.name,
      location,
      tags: validateTags(body.tags),
      managedBy: typeof body.managedBy === 'string' ? body.managedBy : undefined,
    };
    world.putResourceGroup(group);
    return { status: existing ? 200 : 201, body: renderResourceGroup(group) };
  });

  armRoute(runtime, 'PATCH', rg, 'arm.resourcegroups.patch', (call) => {
    const target = resourceGroupOf(call, RG_WRITE);
    const group = call.requireResourceGroup(target.subscriptionId, target.name);
    const body = call.body<{ tags?: unknown }>() ?? {};
    if (body.tags !== undefined) group.tags = validateTags(body.tags);
    return { status: 200, body: renderResourceGroup(group) };
  });

  armRoute(runtime, 'GET', rg, 'arm.resourcegroups.get', (call) => {
    const target = resourceGroupOf(call, RG_READ);
    return { status: 200, body: renderResourceGroup(call.requireResourceGroup(target.subscriptionId, target.name)) };
  });

  // `az group exists`: 204 when it exists, 404 without a body when it does not.
  armRoute(runtime, 'HEAD', rg, 'arm.resourcegroups.head', (call) => {
    const target = resourceGroupOf(call, RG_READ);
    return { status: world.resourceGroup(target.subscriptionId, target.name) ? 204 : 404 };
  });

  armRoute(runtime, 'DELETE', rg, 'arm.resourcegroups.delete', (call) => {
    const target = resourceGroupOf(call, RG_DELETE);
    deleteResourceGroup(world, call.requireResourceGroup(target.subscriptionId, target.name));
    return { status: 200 };
  });
}
