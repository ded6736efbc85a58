// What the Azure module offers other emulator modules on `ctx.shared.azure`: read-only facts about the
// tenant, subscriptions and identities. Anything that changes the world, or should be checked the way a
// client would be, goes through `ctx.internalFetch` with ARM/Entra paths instead (`system: true` only for
// setup, e.g. adding the federated credential a service connection needs).
import type { EmulatorContext } from '../kernel/context';
import { identityResourceId } from './ids';
import type { AzureRuntime } from './runtime';
import type { Identity } from './world';

export interface AzureIdentityInfo {
  /** ARM resource id, with the lowercase `resourcegroups` segment ARM returns for identities. */
  resourceId: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tenantId: string;
  clientId: string;
  principalId: string;
}

export interface AzureShared {
  readonly tenantId: string;
  subscriptions(): Array<{ id: string; name: string }>;
  /** Case-insensitive, as ARM compares ids. */
  identityByResourceId(resourceId: string): AzureIdentityInfo | undefined;
  identityByClientId(clientId: string): AzureIdentityInfo | undefined;
  /** App registrations' service principals (no secrets). */
  applications(): Array<{ appId: string; servicePrincipalId: string; displayName: string }>;
}

function describe(identity: Identity | undefined): AzureIdentityInfo | undefined {
  if (!identity) return undefined;
  return {
    resourceId: identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name),
    name: identity.name,
    subscriptionId: identity.subscriptionId,
    resourceGroup: identity.resourceGroup,
    location: identity.location,
    tenantId: identity.tenantId,
    clientId: identity.clientId,
    principalId: identity.principalId,
  };
}

export function createAzureShared(runtime: AzureRuntime): AzureShared {
  const { world } = runtime;
  return {
    get tenantId() {
      return world.tenant.id;
    },
    subscriptions: () => [...world.subscriptions.values()].map((subscription) => ({ id: subscription.id, name: subscription.displayName })),
    identityByResourceId: (resourceId) => describe(world.identityById(resourceId)),
    identityByClientId: (clientId) => describe(world.identityByClientId(clientId)),
    applications: () => [...world.applications.values()].map(({ appId, servicePrincipalId, displayName }) => ({ appId, servicePrincipalId, displayName })),
  };
}

/** `ctx.shared.azure`, typed; throws when the Azure module is not loaded. */
export function azureShared(ctx: EmulatorContext): AzureShared {
  const shared = ctx.shared.azure as AzureShared | undefined;
  if (!shared) throw new Error('ctx.shared.azure is missing: the azure module must come before modules that use it');
  return shared;
}
