// Entra's token endpoint for workload identity federation: client credentials with a federated
// assertion (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`).
//
// The assertion is checked for real, in the order Entra does the work: find the app, find the
// federated credential its issuer/subject/audience name, fetch that issuer's keys and verify the
// signature, then the validity window. Each refusal carries the AADSTS code Entra uses for it.
//
// Also client credentials with a client secret, for app registrations (`azure.applications`): what a
// ServicePrincipal-scheme service connection does. A wrong secret is AADSTS7000215 ("Invalid client secret
// provided", https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import type { EmulatorContext } from '../kernel/context';
import { formBody, type EmuRequest, type EmuResponse } from '../kernel/http';
import { peekToken, TokenCheckError, verifyToken } from '../kernel/tokens';
import { correlationIdOf, entraError } from './entra-errors';
import { resolveTenant, tenantNotFound } from './entra-discovery';
import { identityResourceId } from './ids';
import type { AzureRuntime } from './runtime';
import type { Application, FederatedCredential, Identity, Tenant } from './world';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const FEDERATION_DOCS = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation';
/** OIDC scopes MSAL may add; they are not resources. */
const OIDC_SCOPES = ['openid', 'profile', 'offline_access', 'email'];

/** `sts.windows.net` is the issuer of the v1 access tokens Azure Resource Manager accepts. */
export function accessTokenIssuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

function missingParameter(req: EmuRequest, name: string) {
  return entraError(req, { status: 400, error: 'invalid_request', code: 900144, description: `The request body must contain the following parameter: '${name}'.` });
}

/** `https://management.core.windows.net//.default` → `https://management.core.windows.net/`. */
function resourceOf(req: EmuRequest, scopeParameter: string): string {
  const scopes = scopeParameter.split(/\s+/).filter((scope) => scope !== '' && !OIDC_SCOPES.includes(scope.toLowerCase()));
  const invalid = scopes.length !== 1 || !scopes[0].endsWith('/.default') || scopes[0] === '/.default';
  if (invalid) {
    throw entraError(req, {
      status: 400,
      error: 'invalid_scope',
      code: 1002012,
      description: `The provided value for scope ${scopeParameter} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    });
  }
  return scopes[0].slice(0, -'/.default'.length);
}

function audiencesOf(claim: unknown): string[] {
  if (typeof claim === 'string') return [claim];
  return Array.isArray(claim) ? claim.filter((value): value is string => typeof value === 'string') : [];
}

function isPropagated(runtime: AzureRuntime, credential: FederatedCredential, now: number): boolean {
  return credential.writtenAt === 0 || now - credential.writtenAt >= runtime.ctx.settings.ficPropagationMs;
}

/**
 * `api://AzureADTokenExchange` is the identifier URI of Entra's token-exchange application; an assertion may
 * name it by its app id instead, as Azure DevOps' Entra-issued ID tokens do (aud fb60f99c-…, Teleport RFD 211).
 */
const TOKEN_EXCHANGE_APP_ID = 'fb60f99c-7a34-4190-8149-302f77469936';

function audienceMatches(credentialAudience: string, presented: readonly string[]): boolean {
  const same = (value: string) => value === TOKEN_EXCHANGE_APP_ID || value === 'api://AzureADTokenExchange';
  return presented.some((audience) => audience === credentialAudience || (same(audience) && same(credentialAudience)));
}

/** Picks the federated credential the assertion presents, or throws the AADSTS error Entra would. */
function matchCredential(runtime: AzureRuntime, req: EmuRequest, identity: Identity, claims: { iss: string; sub: string; aud: string[] }): FederatedCredential {
  const now = Date.now();
  const all = [...identity.federatedCredentials.values()];
  const fits = (credential: FederatedCredential) =>
    credential.issuer === claims.iss && credential.subject === claims.sub && credential.audiences.some((audience) => audienceMatches(audience, claims.aud));
  const visible = all.filter((credential) => isPropagated(runtime, credential, now));
  const match = visible.find(fits);
  if (match) return match;

  const audienceText = claims.aud.join(', ');
  const noRecord = () =>
    entraError(req, {
      status: 400,
      error: 'invalid_request',
      code: 70021,
      description: `No matching federated identity record found for presented assertion. Assertion Issuer: '${claims.iss}'. Assertion Subject: '${claims.sub}'. Assertion Audience: '${audienceText}'. ${FEDERATION_DOCS}`,
    });
  // No credential at all — or none visible yet, a new one still propagating: Entra says the app has none
  // (AADSTS70025, learn.microsoft.com … errors-workload-identity; status and error name [U]).
  if (visible.length === 0) {
    throw entraError(req, {
      status: 400,
      error: 'invalid_client',
      code: 70025,
      description: `The client '${identity.clientId}'(${identity.name}) has no configured federated identity credentials.`,
    });
  }
  // A matching credential still propagating is invisible to token exchange: Entra says it has no record.
  if (all.some((credential) => !isPropagated(runtime, credential, now) && fits(credential))) throw noRecord();
  if (runtime.settings.mismatchError === 'generic') throw noRecord();

  const checkAgainst = `Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${FEDERATION_DOCS}`;
  const byIssuer = visible.filter((credential) => credential.issuer === claims.iss);
  if (byIssuer.length === 0) {
    throw entraError(req, { status: 401, error: 'invalid_client', code: 700211, description: `No matching federated identity record found for presented assertion issuer '${claims.iss}'. ${checkAgainst}` });
  }
  const bySubject = byIssuer.filter((credential) => credential.subject === claims.sub);
  if (bySubject.length === 0) {
    throw entraError(req, { status: 401, error: 'invalid_client', code: 700213, description: `No matching federated identity record found for presented assertion subject '${claims.sub}'. ${checkAgainst}` });
  }
  throw entraError(req, { status: 401, error: 'invalid_client', code: 700212, description: `No matching federated identity record found for presented assertion audience '${audienceText}'. ${checkAgainst}` });
}

/** Entra's time format in AADSTS700024: `2024-05-28T06:01:42.5853621Z`. */
function longIso(seconds: number | undefined): string {
  return seconds === undefined ? 'unknown' : new Date(seconds * 1000).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

async function verifyAssertion(ctx: EmulatorContext, req: EmuRequest, assertion: string, claims: { iss: string; nbf?: number; exp?: number }): Promise<void> {
  const keyRing = ctx.issuers.lookup(claims.iss);
  if (!keyRing) {
    throw entraError(req, { status: 401, error: 'invalid_client', code: 50166, description: `Request to External OIDC endpoint failed. Issuer '${claims.iss}' is not known to the emulator.` });
  }
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(assertion).kid;
  } catch {
    throw malformedAssertion(req);
  }
  if (kid !== keyRing.kid) {
    throw entraError(req, {
      status: 401,
      error: 'invalid_client',
      code: 7000272,
      description: `The certificate with identifier ${kid ?? '(none)'} used to sign the federated credential could not be found in the metadata of identity provider ${claims.iss}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.`,
    });
  }
  try {
    await verifyToken(assertion, keyRing);
  } catch (error) {
    if (!(error instanceof TokenCheckError)) throw error;
    if (error.reason === 'expired' || error.reason === 'not-yet-valid') {
      throw entraError(req, {
        status: 401,
        error: 'invalid_client',
        code: 700024,
        description: `Client assertion is not within its valid time range. Current time: ${longIso(Date.now() / 1000)}, assertion valid from ${longIso(claims.nbf)}, expiry time of assertion ${longIso(claims.exp)}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
      });
    }
    if (error.reason === 'signature') {
      throw entraError(req, { status: 401, error: 'invalid_client', code: 50013, description: 'Assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]' });
    }
    throw malformedAssertion(req);
  }
}

function malformedAssertion(req: EmuRequest) {
  return entraError(req, { status: 400, error: 'invalid_request', code: 50027, description: 'JWT token is invalid or malformed.' });
}

async function issueAccessToken(runtime: AzureRuntime, tenant: Tenant, identity: Identity, audience: string): Promise<string> {
  const { ctx } = runtime;
  const issuer = accessTokenIssuer(tenant.id);
  const token = await ctx.keys.entra.sign(
    {
      aud: audience,
      iss: issuer,
      idp: issuer,
      appid: identity.clientId,
      appidacr: '2',
      azp: identity.clientId,
      idtyp: 'app',
      oid: identity.principalId,
      sub: identity.principalId,
      tid: tenant.id,
      uti: randomUUID().replace(/-/g, ''),
      ver: '1.0',
      xms_mirid: identityResourceId(identity.subscriptionId, identity.resourceGroup, identity.name),
    },
    ctx.settings.accessTokenLifetimeSeconds,
  );
  return ctx.tokens.record('access-token', token);
}

/** An app-only access token for an app registration's service principal (client secret flow). */
async function issueApplicationToken(runtime: AzureRuntime, tenant: Tenant, application: Application, audience: string): Promise<string> {
  const { ctx } = runtime;
  const issuer = accessTokenIssuer(tenant.id);
  const token = await ctx.keys.entra.sign(
    { aud: audience, iss: issuer, idp: issuer, appid: application.appId, appidacr: '1', azp: application.appId, idtyp: 'app', oid: application.servicePrincipalId, sub: application.servicePrincipalId, tid: tenant.id, uti: randomUUID().replace(/-/g, ''), ver: '1.0' },
    ctx.settings.accessTokenLifetimeSeconds,
  );
  return ctx.tokens.record('access-token', token);
}

function secretGrant(runtime: AzureRuntime, req: EmuRequest, tenant: Tenant, clientId: string, secret: string): Application {
  const application = runtime.world.application(clientId);
  if (!application) {
    throw entraError(req, {
      status: 400,
      error: 'unauthorized_client',
      code: 700016,
      description: `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    });
  }
  if (!application.secrets.includes(secret)) {
    throw entraError(req, { status: 401, error: 'invalid_client', code: 7000215, description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.` });
  }
  return application;
}

export async function tokenEndpoint(runtime: AzureRuntime, req: EmuRequest): Promise<EmuResponse> {
  const resolved = resolveTenant(runtime, req.params.tenant);
  if (!resolved || !('tenant' in resolved)) throw tenantNotFound(req, req.params.tenant);
  const { tenant } = resolved;
  const form = formBody(req);

  const grantType = form.get('grant_type');
  if (!grantType) throw missingParameter(req, 'grant_type');
  if (grantType !== 'client_credentials') {
    throw entraError(req, { status: 400, error: 'unsupported_grant_type', code: 70003, description: `The app requested an unsupported grant type '${grantType}'. The emulator issues tokens for client credentials with a federated assertion only.` });
  }
  const clientId = form.get('client_id');
  if (!clientId) throw missingParameter(req, 'client_id');
  const scope = form.get('scope');
  if (!scope) throw missingParameter(req, 'scope');
  const audience = resourceOf(req, scope);

  const assertion = form.get('client_assertion');
  const secret = form.get('client_secret');
  if (!assertion && secret) {
    const application = secretGrant(runtime, req, tenant, clientId, secret);
    const lifetime = runtime.ctx.settings.accessTokenLifetimeSeconds;
    const accessToken = await issueApplicationToken(runtime, tenant, application, audience);
    return { status: 200, headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache', 'client-request-id': correlationIdOf(req) }, body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken } };
  }
  if (!assertion || form.get('client_assertion_type') !== JWT_BEARER) {
    throw entraError(req, { status: 401, error: 'invalid_client', code: 7000218, description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'." });
  }
  const claims = peekToken(assertion);
  // Entra requires iss, sub and exp in a federated assertion.
  if (!claims || typeof claims.iss !== 'string' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw malformedAssertion(req);

  const identity = runtime.world.identityByClientId(clientId);
  if (!identity || identity.tenantId.toLowerCase() !== tenant.id.toLowerCase()) {
    throw entraError(req, {
      status: 400,
      error: 'unauthorized_client',
      code: 700016,
      description: `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    });
  }

  matchCredential(runtime, req, identity, { iss: claims.iss, sub: claims.sub, aud: audiencesOf(claims.aud) });
  await verifyAssertion(runtime.ctx, req, assertion, { iss: claims.iss, nbf: claims.nbf, exp: claims.exp });

  const lifetime = runtime.ctx.settings.accessTokenLifetimeSeconds;
  const accessToken = await issueAccessToken(runtime, tenant, identity, audience);
  return {
    status: 200,
    headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache', 'client-request-id': correlationIdOf(req), 'x-ms-request-id': randomUUID() },
    body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken },
  };
}
