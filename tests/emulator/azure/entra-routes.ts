// Entra ID's routes: OpenID configuration, signing keys, instance discovery and the token endpoint.
// Token requests count as reads in the request counters (they change nothing in the world).
import type { JWK } from 'jose';
import type { KeyRing } from '../kernel/tokens';
import { instanceDiscovery, openIdConfiguration, resolveTenant, tenantNotFound } from './entra-discovery';
import { tokenEndpoint } from './entra-token';
import type { AzureRuntime } from './runtime';

/**
 * The access-token key, plus the key of whatever is registered as this tenant's v2.0 issuer: in Azure,
 * Entra also signs the ID tokens Azure DevOps hands out under `https://login.microsoftonline.com/{tenant}/v2.0`,
 * so verifying those through Entra's discovery must work here too (the DevOps module signs them).
 */
function signingKeys(runtime: AzureRuntime, origin: string): JWK[] {
  const { ctx, world } = runtime;
  const tenants = [world.tenant.id, world.tenant.id.toLowerCase()];
  const issuers = tenants.flatMap((tenant) => [`${origin}/${tenant}/v2.0`, `https://login.microsoftonline.com/${tenant}/v2.0`]);
  const rings = [ctx.keys.entra, ...issuers.map((issuer) => ctx.issuers.lookup(issuer)).filter((ring): ring is KeyRing => ring !== undefined)];
  const keys = new Map(rings.map((ring) => [ring.kid, ring.publicJwk]));
  return [...keys.values()];
}

export function registerEntraRoutes(runtime: AzureRuntime): void {
  const { router } = runtime.ctx;
  const service = 'entra' as const;

  router.add('GET', '/common/discovery/instance', { service, name: 'entra.instance-discovery' }, (req) => ({ status: 200, body: instanceDiscovery(runtime, req) }));

  router.add('GET', '/:tenant/v2.0/.well-known/openid-configuration', { service, name: 'entra.openid-configuration' }, (req) => {
    const resolved = resolveTenant(runtime, req.params.tenant);
    if (!resolved) throw tenantNotFound(req, req.params.tenant);
    return { status: 200, body: openIdConfiguration(req, resolved) };
  });

  router.add('GET', '/:tenant/discovery/v2.0/keys', { service, name: 'entra.keys' }, (req) => {
    if (!resolveTenant(runtime, req.params.tenant)) throw tenantNotFound(req, req.params.tenant);
    return { status: 200, body: { keys: signingKeys(runtime, req.origin) } };
  });

  router.add('POST', '/:tenant/oauth2/v2.0/token', { service, name: 'entra.token', kind: 'read' }, (req) => tokenEndpoint(runtime, req));
}

