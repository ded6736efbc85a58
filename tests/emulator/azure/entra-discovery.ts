// Entra ID's metadata endpoints: OpenID configuration, signing keys, and instance discovery.
//
// Every URL is built from the request's origin, so the same handler answers `https://127.0.0.1:{port}`
// and `https://login.microsoftonline.com` (through the proxy). MSAL checks that `issuer` has the
// authority's scheme, host and port, and takes the tenant from `token_endpoint`.
import { HttpError, queryParam, type EmuRequest } from '../kernel/http';
import { entraError } from './entra-errors';
import type { AzureRuntime } from './runtime';
import type { Tenant } from './world';

/** Hosts Entra's instance discovery knows as aliases of the public cloud. */
const PUBLIC_CLOUD_ALIASES = ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'];
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** `common` and `organizations` are valid authorities for discovery, not tenants that own apps. */
const MULTI_TENANT_SEGMENTS = ['common', 'organizations'];

export type TenantSegment = { tenant: Tenant } | { multiTenant: string };

export function resolveTenant(runtime: AzureRuntime, segment: string): TenantSegment | undefined {
  const { tenant } = runtime.world;
  const wanted = segment.toLowerCase();
  if (wanted === tenant.id.toLowerCase() || (tenant.defaultDomain && wanted === tenant.defaultDomain.toLowerCase())) return { tenant };
  if (MULTI_TENANT_SEGMENTS.includes(wanted)) return { multiTenant: wanted };
  return undefined;
}

export function tenantNotFound(req: EmuRequest, segment: string): HttpError {
  return entraError(req, {
    status: 400,
    error: 'invalid_tenant',
    code: 90002,
    description: `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  });
}

export function openIdConfiguration(req: EmuRequest, resolved: TenantSegment): Record<string, unknown> {
  // Entra puts the tenant GUID in every URL even when asked by domain; `common` keeps a placeholder issuer.
  const segment = 'tenant' in resolved ? resolved.tenant.id : resolved.multiTenant;
  const issuerTenant = 'tenant' in resolved ? resolved.tenant.id : '{tenantid}';
  const base = `${req.origin}/${segment}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${req.origin}/${issuerTenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/**
 * `GET /common/discovery/instance?authorization_endpoint=...`: MSAL asks which host and cache aliases an
 * authority has and where its OpenID configuration lives. MSAL drops the port from
 * `authorization_endpoint`, so for a loopback authority the emulator puts its own port back.
 */
export function instanceDiscovery(runtime: AzureRuntime, req: EmuRequest): Record<string, unknown> {
  const raw = queryParam(req, 'authorization_endpoint');
  if (!raw) {
    throw entraError(req, { status: 400, error: 'invalid_request', code: 900144, description: "The request body must contain the following parameter: 'authorization_endpoint'." });
  }
  let endpoint: URL;
  try {
    endpoint = new URL(raw);
  } catch {
    throw invalidInstance(req);
  }
  const hostname = endpoint.hostname.toLowerCase();
  let host: string;
  let aliases: string[];
  if (PUBLIC_CLOUD_ALIASES.includes(hostname)) {
    host = hostname;
    aliases = PUBLIC_CLOUD_ALIASES;
  } else if (LOOPBACK_HOSTS.includes(hostname)) {
    host = `${endpoint.hostname}:${endpoint.port || new URL(runtime.ctx.urls.origin).port}`;
    aliases = [host];
  } else {
    throw invalidInstance(req);
  }
  const tenant = endpoint.pathname.split('/').filter((segment) => segment !== '')[0] ?? 'common';
  return {
    tenant_discovery_endpoint: `https://${host}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': queryParam(req, 'api-version') ?? '1.1',
    metadata: [{ preferred_network: aliases[0], preferred_cache: aliases.includes('login.windows.net') ? 'login.windows.net' : aliases[0], aliases }],
  };
}

function invalidInstance(req: EmuRequest): HttpError {
  return entraError(req, { status: 400, error: 'invalid_instance', code: 50049, description: 'Unknown or invalid instance.' });
}
