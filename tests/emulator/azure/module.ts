// The `azure` emulator module: Entra ID (discovery, keys, token exchange for federated credentials) and
// Azure Resource Manager (subscriptions, resource groups, user-assigned identities, federated identity
// credentials, role assignments and definitions), over one in-memory world per running emulator.
import type { EmulatorModule } from '../kernel/context';
import { armErrorShape } from './arm-errors';
import { renderFederatedCredential } from './arm-federated-credentials';
import { registerIdentityRoutes, renderIdentity } from './arm-identities';
import { armResponseHeaders } from './arm-pipeline';
import { registerRoleAssignmentRoutes, renderRoleAssignment } from './arm-role-assignments';
import { registerRoleDefinitionRoutes } from './arm-role-definitions';
import { registerSubscriptionRoutes, renderResourceGroup } from './arm-subscriptions';
import { registerFederatedCredentialRoutes } from './arm-federated-credentials';
import { defaultAzureSeed } from './default-world';
import { entraErrorShape } from './entra-errors';
import { registerEntraRoutes } from './entra-routes';
import { createRuntime, runtimeOf } from './runtime';
import { loadAzureSeed } from './seed';
import { createAzureShared } from './shared';

export const azureModule: EmulatorModule = {
  name: 'azure',

  register(ctx) {
    const runtime = createRuntime(ctx);
    runtime.restoreSettings();
    ctx.errorShapes.entra = entraErrorShape;
    ctx.errorShapes.arm = armErrorShape;
    ctx.responseHeaders.arm = armResponseHeaders;
    ctx.shared.azure = createAzureShared(runtime);
    registerEntraRoutes(runtime);
    registerSubscriptionRoutes(runtime);
    registerIdentityRoutes(runtime);
    registerFederatedCredentialRoutes(runtime);
    registerRoleAssignmentRoutes(runtime);
    registerRoleDefinitionRoutes(runtime);
  },

  clear(ctx) {
    const runtime = runtimeOf(ctx);
    runtime.clear();
    runtime.restoreSettings();
  },

  seed(ctx, seed) {
    // A seed without an `azure` section keeps the default Azure world; `"azure": {...}` replaces it.
    loadAzureSeed(runtimeOf(ctx), seed.azure ?? defaultAzureSeed());
  },

  state(ctx) {
    const { world } = runtimeOf(ctx);
    const identities = [...world.identities.values()];
    return {
      identities: identities.map(renderIdentity),
      federatedIdentityCredentials: identities.flatMap((identity) => [...identity.federatedCredentials.values()].map((credential) => renderFederatedCredential(identity, credential))),
      roleAssignments: [...world.roleAssignments.values()].map(renderRoleAssignment),
      resourceGroups: [...world.resourceGroups.values()].map(renderResourceGroup),
    };
  },

  info(ctx) {
    const { world } = runtimeOf(ctx);
    return {
      authorityHost: ctx.urls.origin,
      armEndpoint: ctx.urls.origin,
      tenantId: world.tenant.id,
      subscriptions: [...world.subscriptions.values()].map((subscription) => ({ id: subscription.id, name: subscription.displayName })),
    };
  },
};
