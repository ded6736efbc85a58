// Microsoft.ManagedIdentity/userAssignedIdentities: create (201, or 200 when it exists), update, get,
// list by resource group and subscription, delete (200, or 204 when absent). All synchronous, as the
// MSI resource provider is.
//
// Creating an identity also creates its service principal in the directory. A role assignment that
// names that principal without `principalType` fails with PrincipalNotFound until
// settings.principalReplicationMs has passed; setup (`system`) writes count as replicated.
import { randomUUID } from 'node:crypto';
import { armError, resourceNotFound } from './arm-errors';
import { armRoute, type ArmCall } from './arm-pipeline';
import { normalizeLocation, validateResourceGroupName, validateTags } from './arm-subscriptions';
import { IDENTITY_TYPE, identityResourceId, keyOf, resourceGroupResourceId, subscriptionResourceId } from './ids';
import { page } from './paging';
import type { AzureRuntime } from './runtime';
import type { AzureWorld, Identity } from './world';

const READ = 'Microsoft.ManagedIdentity/userAssignedIdentities/read';
const WRITE = 'Microsoft.ManagedIdentity/userAssignedIdentities/write';
const DELETE = 'Microsoft.ManagedIdentity/userAssignedIdentities/delete';
/** The resource-name rule for user-assigned identities: 3-128 characters, starting with a letter or digit. */
const IDENTITY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/;
const ISOLATION_SCOPES = ['None', 'Regional'];

export function renderIdentity(identity: Identity): Record<string, unknown> {
  return {
    id: identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name),
    name: identity.name,
    type: IDENTITY_TYPE,
    location: identity.location,
    tags: identity.tags,
    properties: {
      tenantId: identity.tenantId,
      principalId: identity.principalId,
      clientId: identity.clientId,
      isolationScope: identity.isolationScope,
    },
  };
}

export interface NewIdentity {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
  isolationScope?: string;
  /** Only the seed chooses these; ARM generates them. */
  clientId?: string;
  principalId?: string;
  /** Setup writes are replicated at once. */
  replicated: boolean;
}

export function createIdentity(world: AzureWorld, input: NewIdentity): Identity {
  const identity: Identity = {
    subscriptionId: input.subscriptionId,
    resourceGroup: input.resourceGroup,
    name: input.name,
    location: normalizeLocation(input.location),
    tags: input.tags ?? {},
    isolationScope: input.isolationScope ?? 'None',
    tenantId: world.tenant.id,
    clientId: input.clientId ?? randomUUID(),
    principalId: input.principalId ?? randomUUID(),
    createdAt: input.replicated ? 0 : Date.now(),
    federatedCredentials: new Map(),
  };
  world.putIdentity(identity);
  world.putPrincipal({ id: identity.principalId, type: 'ServicePrincipal', displayName: identity.name, createdAt: input.replicated ? 0 : Date.now() });
  return identity;
}

function readIsolationScope(properties: unknown): string | undefined {
  if (properties === undefined || properties === null) return undefined;
  const value = (properties as { isolationScope?: unknown }).isolationScope;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !ISOLATION_SCOPES.includes(value)) {
    throw armError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: 'isolationScope must be one of ${ISOLATION_SCOPES.join(', ')}'.`);
  }
  return value;
}

interface Target {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/**
 * Subscription, authorization, then resource group: the order ARM checks them in. The action is
 * authorized on the request's path, which ARM also names as the scope when it refuses; for nested
 * routes (federated credentials) that is the nested resource.
 */
export function identityTarget(call: ArmCall, action: string): Target {
  const { subscriptionId, resourceGroup, identityName } = call.req.params;
  call.requireSubscription(subscriptionId);
  validateResourceGroupName(resourceGroup);
  call.authorize(action, call.req.path);
  call.requireResourceGroup(subscriptionId, resourceGroup);
  return { subscriptionId, resourceGroup, name: identityName };
}

export function requireIdentity(call: ArmCall, target: Target): Identity {
  const identity = call.runtime.world.identity(target.subscriptionId, target.resourceGroup, target.name);
  if (!identity) throw resourceNotFound(IDENTITY_TYPE, target.name, target.resourceGroup);
  return identity;
}

export function registerIdentityRoutes(runtime: AzureRuntime): void {
  const { world } = runtime;
  const provider = 'providers/Microsoft.ManagedIdentity/userAssignedIdentities';
  const inGroup = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/${provider}`;
  const one = `${inGroup}/:identityName`;

  armRoute(runtime, 'PUT', one, 'arm.identities.put', (call) => {
    const target = identityTarget(call, WRITE);
    if (!IDENTITY_NAME.test(target.name)) {
      throw armError(
        400,
        'InvalidResourceName',
        `Resource name '${target.name}' is invalid. The name must be 3 to 128 characters long, start with a letter or number, and contain only letters, numbers, hyphens and underscores.`,
      );
    }
    const body = call.body<{ location?: unknown; tags?: unknown; properties?: unknown }>() ?? {};
    if (typeof body.location !== 'string' || body.location.trim() === '') {
      throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    }
    const tags = validateTags(body.tags);
    const isolationScope = readIsolationScope(body.properties);
    const existing = world.identity(target.subscriptionId, target.resourceGroup, target.name);
    if (existing) {
      const location = normalizeLocation(body.location);
      if (location !== existing.location) {
        throw armError(
          400,
          'InvalidResourceLocation',
          `The resource '${existing.name}' already exists in location '${existing.location}' in resource group '${existing.resourceGroup}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
        );
      }
      existing.tags = tags ?? {};
      if (isolationScope) existing.isolationScope = isolationScope;
      return { status: 200, body: renderIdentity(existing) };
    }
    const group = call.requireResourceGroup(target.subscriptionId, target.resourceGroup);
    const identity = createIdentity(world, {
      subscriptionId: group.subscriptionId,
      resourceGroup: group.name,
      name: target.name,
      location: body.location,
      tags,
      isolationScope,
      replicated: call.req.system === true,
    });
    return { status: 201, body: renderIdentity(identity) };
  });

  armRoute(runtime, 'PATCH', one, 'arm.identities.patch', (call) => {
    const identity = requireIdentity(call, identityTarget(call, WRITE));
    const body = call.body<{ tags?: unknown; properties?: unknown }>() ?? {};
    if (body.tags !== undefined) identity.tags = validateTags(body.tags) ?? {};
    const isolationScope = readIsolationScope(body.properties);
    if (isolationScope) identity.isolationScope = isolationScope;
    return { status: 200, body: renderIdentity(identity) };
  });

  armRoute(runtime, 'GET', one, 'arm.identities.get', (call) => ({ status: 200, body: renderIdentity(requireIdentity(call, identityTarget(call, READ))) }));

  armRoute(runtime, 'DELETE', one, 'arm.identities.delete', (call) => {
    const target = identityTarget(call, DELETE);
    const identity = world.identity(target.subscriptionId, target.resourceGroup, target.name);
    if (!identity) return { status: 204 };
    world.deleteIdentity(identity);
    return { status: 200 };
  });

  armRoute(runtime, 'GET', inGroup, 'arm.identities.list-by-group', (call) => {
    const { subscriptionId, resourceGroup } = call.req.params;
    call.requireSubscription(subscriptionId);
    validateResourceGroupName(resourceGroup);
    call.requireVisibility(READ, resourceGroupResourceId(subscriptionId, resourceGroup));
    const group = call.requireResourceGroup(subscriptionId, resourceGroup);
    const identities = [...world.identities.values()].filter(
      (identity) =>
        keyOf(identity.subscriptionId) === keyOf(subscriptionId) &&
        keyOf(identity.resourceGroup) === keyOf(resourceGroup) &&
        call.can(READ, identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name)),
    );
    return { status: 200, body: page(call.req, identities.map(renderIdentity), 100, `/subscriptions/${subscriptionId}/resourcegroups/${group.name}/${provider}`) };
  });

  armRoute(runtime, 'GET', `/subscriptions/:subscriptionId/${provider}`, 'arm.identities.list-by-subscription', (call) => {
    const subscription = call.requireSubscription(call.req.params.subscriptionId);
    call.requireVisibility(READ, subscriptionResourceId(subscription.id));
    const identities = [...world.identities.values()].filter(
      (identity) => keyOf(identity.subscriptionId) === keyOf(subscription.id) && call.can(READ, identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name)),
    );
    return { status: 200, body: page(call.req, identities.map(renderIdentity), 100) };
  });
}
