// Protects the Entra ID half of the emulator: the metadata MSAL needs (OpenID configuration with an
// issuer on the authority's host:port, keys, instance discovery that restores the port MSAL drops), a
// real ClientAssertionCredential exchanging a test-issuer assertion for an ARM token with the claims
// ARM relies on, and every refusal of a federated assertion carrying the AADSTS code Entra sends.
import assert from 'node:assert/strict';
import { createLocalJWKSet, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP } from './default-world';
import {
  bootstrapCredential,
  credentialFor,
  exchange,
  expectAuthenticationError,
  FIC_AUDIENCE,
  mintAssertion,
  msiClient,
  raw,
  setupCall,
  setupIdentity,
  testIssuer,
  uniqueName,
} from './test-support';

describe('emulator: Entra ID', () => {
  let emulator: RunningEmulator;

  before(async () => {
    emulator = await startTestEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(async () => {
    await emulator.reset();
  });

  describe('metadata', () => {
    it('serves an OpenID configuration whose issuer and endpoints are on the requested origin', async () => {
      const { status, body } = await raw(emulator, 'GET', `/${DEFAULT_TENANT.id}/v2.0/.well-known/openid-configuration`);
      assert.equal(status, 200);
      const origin = String(emulator.info.authorityHost);
      assert.equal(body.issuer, `${origin}/${DEFAULT_TENANT.id}/v2.0`);
      assert.equal(body.token_endpoint, `${origin}/${DEFAULT_TENANT.id}/oauth2/v2.0/token`);
      assert.equal(body.authorization_endpoint, `${origin}/${DEFAULT_TENANT.id}/oauth2/v2.0/authorize`);
      assert.equal(body.jwks_uri, `${origin}/${DEFAULT_TENANT.id}/discovery/v2.0/keys`);
      assert.equal(body.device_authorization_endpoint, `${origin}/${DEFAULT_TENANT.id}/oauth2/v2.0/devicecode`);
    });

    it('answers for the tenant domain with the tenant GUID, and refuses an unknown tenant with AADSTS90002', async () => {
      const byDomain = await raw(emulator, 'GET', `/${DEFAULT_TENANT.defaultDomain}/v2.0/.well-known/openid-configuration`);
      assert.equal(byDomain.body.issuer, `${emulator.info.authorityHost}/${DEFAULT_TENANT.id}/v2.0`);
      const unknown = await raw(emulator, 'GET', '/aaaaaaaa-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration');
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error, 'invalid_tenant');
      assert.deepEqual(unknown.body.error_codes, [90002]);
      assert.match(unknown.body.error_description, /^AADSTS90002: .* Trace ID: \S+ Correlation ID: \S+ Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    });

    it('serves the signing key that verifies the access tokens it issues', async () => {
      const jwks = (await raw(emulator, 'GET', `/${DEFAULT_TENANT.id}/discovery/v2.0/keys`)).body;
      const token = await bootstrapCredential(emulator).getToken('https://management.azure.com/.default');
      const { payload } = await jwtVerify(token!.token, createLocalJWKSet(jwks));
      assert.equal(payload.iss, `https://sts.windows.net/${DEFAULT_TENANT.id}/`);
    });

    it("also publishes the key of the tenant's v2.0 issuer, which Azure DevOps ID tokens carry", async () => {
      emulator.ctx.issuers.register(`https://login.microsoftonline.com/${DEFAULT_TENANT.id}/v2.0`, emulator.ctx.keys.devops);
      const { body } = await raw(emulator, 'GET', `/${DEFAULT_TENANT.id}/discovery/v2.0/keys`);
      const kids = body.keys.map((key: { kid: string }) => key.kid);
      assert.ok(kids.includes(emulator.ctx.keys.entra.kid));
      assert.ok(kids.includes(emulator.ctx.keys.devops.kid));
    });

    it('puts its own port back into instance discovery for a loopback authority (MSAL drops it)', async () => {
      const port = new URL(String(emulator.info.authorityHost)).port;
      const authorize = encodeURIComponent(`https://127.0.0.1/${DEFAULT_TENANT.id}/oauth2/v2.0/authorize`);
      const { status, body } = await raw(emulator, 'GET', `/common/discovery/instance?api-version=1.1&authorization_endpoint=${authorize}`);
      assert.equal(status, 200);
      assert.equal(body.tenant_discovery_endpoint, `https://127.0.0.1:${port}/${DEFAULT_TENANT.id}/v2.0/.well-known/openid-configuration`);
      assert.deepEqual(body.metadata[0].aliases, [`127.0.0.1:${port}`]);
    });

    it('answers instance discovery for the public cloud with its aliases and refuses unknown hosts', async () => {
      const known = await raw(emulator, 'GET', `/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent('https://login.microsoftonline.com/common/oauth2/authorize')}`);
      assert.equal(known.body.metadata[0].preferred_network, 'login.microsoftonline.com');
      assert.ok(known.body.metadata[0].aliases.includes('login.windows.net'));
      const unknown = await raw(emulator, 'GET', `/common/discovery/instance?authorization_endpoint=${encodeURIComponent('https://idp.example.com/t/oauth2/v2.0/authorize')}`);
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error, 'invalid_instance');
      assert.match(unknown.body.error_description, /^AADSTS50049:/);
    });
  });

  describe('token exchange with a federated assertion', () => {
    it('gives ClientAssertionCredential an ARM token carrying oid, tid, appid, azp, aud, iss, exp and idtyp', async () => {
      const token = await bootstrapCredential(emulator).getToken('https://management.azure.com/.default');
      assert.ok(token);
      const claims = JSON.parse(Buffer.from(token.token.split('.')[1], 'base64url').toString('utf8'));
      assert.equal(claims.aud, 'https://management.azure.com');
      assert.equal(claims.iss, `https://sts.windows.net/${DEFAULT_TENANT.id}/`);
      assert.equal(claims.tid, DEFAULT_TENANT.id);
      assert.equal(claims.oid, BOOTSTRAP_IDENTITY.principalId);
      assert.equal(claims.appid, BOOTSTRAP_IDENTITY.clientId);
      assert.equal(claims.azp, BOOTSTRAP_IDENTITY.clientId);
      assert.equal(claims.idtyp, 'app');
      assert.ok(claims.exp > Date.now() / 1000);
      assert.ok(token.expiresOnTimestamp > Date.now());
    });

    it('records every access token it issues', async () => {
      const token = await bootstrapCredential(emulator).getToken('https://management.azure.com/.default');
      const { value } = await control<{ value: Array<{ kind: string; token: string }> }>(emulator, 'GET', 'tokens');
      assert.ok(value.some((entry) => entry.kind === 'access-token' && entry.token === token!.token));
    });

    it("strips /.default from az's double-slash scope to form the audience", async () => {
      const response = await exchange(emulator, BOOTSTRAP_IDENTITY.clientId, await mintAssertion(emulator, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject }), 'https://management.core.windows.net//.default');
      assert.equal(response.status, 200);
      assert.deepEqual(Object.keys(response.body).sort(), ['access_token', 'expires_in', 'ext_expires_in', 'token_type']);
      assert.equal(response.body.token_type, 'Bearer');
      const claims = JSON.parse(Buffer.from(response.body.access_token.split('.')[1], 'base64url').toString('utf8'));
      assert.equal(claims.aud, 'https://management.core.windows.net/');
    });

    it('refuses an unknown client id with AADSTS700016', async () => {
      const credential = credentialFor(emulator, 'deadbeef-0000-4000-8000-000000000000', { subject: BOOTSTRAP_IDENTITY.testIssuerSubject });
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), 'AADSTS700016');
    });

    it('refuses an identity without federated credentials with AADSTS70025, as Entra does', async () => {
      const identity = await setupIdentity(emulator, uniqueName('id-bare'));
      const credential = credentialFor(emulator, identity.properties.clientId, { subject: 'anything' });
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), 'AADSTS70025');
      await expectAuthenticationError(credentialFor(emulator, identity.properties.clientId, { subject: 'anything' }).getToken('https://management.azure.com/.default'), 'has no configured federated identity credentials');
    });

    it('answers AADSTS70025 while an identity\'s only credential propagates, AADSTS70021 while a further one does', async () => {
      await control(emulator, 'POST', 'delays', { ficPropagationMs: 60_000 });
      const name = uniqueName('id-prop');
      const bootstrap = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const identity = await bootstrap.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, name, { location: 'westeurope' });
      await bootstrap.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, name, 'first', { issuer: testIssuer(emulator), subject: 'first', audiences: [FIC_AUDIENCE] });
      await expectAuthenticationError(credentialFor(emulator, identity.clientId!, { subject: 'first' }).getToken('https://management.azure.com/.default'), 'AADSTS70025');
      // GIVEN a credential written by setup (propagated) next to the propagating one
      await setupCall(emulator, 'PUT', `${identity.id}/federatedIdentityCredentials/old`, { properties: { issuer: testIssuer(emulator), subject: 'old', audiences: [FIC_AUDIENCE] } });
      await expectAuthenticationError(credentialFor(emulator, identity.clientId!, { subject: 'first' }).getToken('https://management.azure.com/.default'), 'AADSTS70021');
    });

    it('with azure.mismatchError generic, answers a subject mismatch with AADSTS70021 naming the Assertion Issuer and Subject', async () => {
      await control(emulator, 'POST', 'settings', { azure: { mismatchError: 'generic' } });
      const credential = credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: 'someone-else' });
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), "AADSTS70021: No matching federated identity record found for presented assertion\\. Assertion Issuer: '[^']+'\\. Assertion Subject: 'someone-else");
    });

    it('an internal fault rule fails the in-process token exchange once (a transient AADSTS700213), network rules do not', async () => {
      await control(emulator, 'POST', 'faults', { rules: [{ route: 'entra.token', status: 401, code: 'AADSTS700213', internal: true, times: 1 }] });
      const fetched = await emulator.ctx.internalFetch({ method: 'POST', path: `/${DEFAULT_TENANT.id}/oauth2/v2.0/token`, host: 'login.microsoftonline.com', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      assert.equal(fetched.status, 401);
      assert.match(JSON.stringify(fetched.body), /AADSTS700213/);
      const again = await emulator.ctx.internalFetch({ method: 'POST', path: `/${DEFAULT_TENANT.id}/oauth2/v2.0/token`, host: 'login.microsoftonline.com', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      assert.equal(again.status, 400, 'the rule fired once; the real check answers now (a parameter is missing)');
    });

    it('accepts the token-exchange app id fb60f99c-… as the audience api://AzureADTokenExchange', async () => {
      const credential = credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject, audience: 'fb60f99c-7a34-4190-8149-302f77469936' });
      assert.ok((await credential.getToken('https://management.azure.com/.default'))?.token);
    });

    it('answers AADSTS70025 while the first credential of a new identity propagates, then issues the token once it has', async () => {
      // GIVEN federated credentials take 400 ms to propagate
      await control(emulator, 'POST', 'delays', { ficPropagationMs: 400 });
      const name = uniqueName('id-new');
      const bootstrap = msiClient(emulator, bootstrapCredential(emulator), DEV_SUBSCRIPTION.id);
      const identity = await bootstrap.userAssignedIdentities.createOrUpdate(IDENTITY_RESOURCE_GROUP, name, { location: 'westeurope' });
      // WHEN the bootstrap identity writes a credential trusting the test issuer and the new identity exchanges at once
      await bootstrap.federatedIdentityCredentials.createOrUpdate(IDENTITY_RESOURCE_GROUP, name, 'pipeline', { issuer: testIssuer(emulator), subject: 'pipeline', audiences: [FIC_AUDIENCE] });
      const credential = credentialFor(emulator, identity.clientId!, { subject: 'pipeline' });
      // THEN Entra has no credential yet (the only one is invisible: AADSTS70025), and has it after the delay
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), 'AADSTS70025');
      await new Promise((resolve) => setTimeout(resolve, 450));
      const token = await credentialFor(emulator, identity.clientId!, { subject: 'pipeline' }).getToken('https://management.azure.com/.default');
      assert.ok(token?.token);
    });

    it('refuses an issuer no credential names with AADSTS700211', async () => {
      const credential = credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject, issuer: 'https://token.actions.githubusercontent.com' });
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), 'AADSTS700211');
    });

    it('refuses a known issuer with another subject with AADSTS700213, case-sensitively', async () => {
      const credential = credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject.toUpperCase() });
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), 'AADSTS700213');
    });

    it('refuses an assertion for another audience with AADSTS700212', async () => {
      const credential = credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject, audience: 'api://SomethingElse' });
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), 'AADSTS700212');
    });

    it('refuses an expired or not-yet-valid assertion with AADSTS700024', async () => {
      const expired = credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject, expiresInSeconds: -60 });
      await expectAuthenticationError(expired.getToken('https://management.azure.com/.default'), 'AADSTS700024');
      const early = credentialFor(emulator, BOOTSTRAP_IDENTITY.clientId, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject, notBeforeSeconds: 300 });
      await expectAuthenticationError(early.getToken('https://management.azure.com/.default'), 'AADSTS700024');
    });

    it('refuses an assertion signed with a key the issuer does not publish (AADSTS7000272) or a forged signature (AADSTS50013)', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      const now = Math.floor(Date.now() / 1000);
      const foreign = await new SignJWT({ iss: testIssuer(emulator), sub: BOOTSTRAP_IDENTITY.testIssuerSubject, aud: FIC_AUDIENCE })
        .setProtectedHeader({ alg: 'RS256', kid: 'someone-elses-key' })
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(privateKey);
      const wrongKey = await exchange(emulator, BOOTSTRAP_IDENTITY.clientId, foreign);
      assert.equal(wrongKey.status, 401);
      assert.match(wrongKey.body.error_description, /^AADSTS7000272:/);

      const genuine = await mintAssertion(emulator, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject });
      const [headerPart, payloadPart, signature] = genuine.split('.');
      const tampered = `${headerPart}.${payloadPart}.${signature.slice(0, -6)}${signature.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
      const forged = await exchange(emulator, BOOTSTRAP_IDENTITY.clientId, tampered);
      assert.equal(forged.status, 401);
      assert.equal(forged.body.error, 'invalid_client');
      assert.match(forged.body.error_description, /^AADSTS50013:/);
    });

    it('refuses an issuer whose keys it cannot fetch with AADSTS50166', async () => {
      const issuer = 'https://issuer.example.com/oidc';
      const identity = await setupIdentity(emulator, uniqueName('id-elsewhere'), [{ name: 'elsewhere', issuer, subject: 'job' }]);
      const credential = credentialFor(emulator, identity.properties.clientId, { subject: 'job', issuer });
      await expectAuthenticationError(credential.getToken('https://management.azure.com/.default'), 'AADSTS50166');
    });

    it('refuses a malformed assertion (AADSTS50027), a grant it does not support (AADSTS70003) and a scope without /.default (AADSTS1002012)', async () => {
      const malformed = await exchange(emulator, BOOTSTRAP_IDENTITY.clientId, 'not-a-jwt');
      assert.equal(malformed.status, 400);
      assert.match(malformed.body.error_description, /^AADSTS50027:/);

      const password = await raw(emulator, 'POST', `/${DEFAULT_TENANT.id}/oauth2/v2.0/token`, { form: { grant_type: 'password', client_id: BOOTSTRAP_IDENTITY.clientId, scope: 'x/.default' } });
      assert.equal(password.status, 400);
      assert.equal(password.body.error, 'unsupported_grant_type');
      assert.deepEqual(password.body.error_codes, [70003]);

      const assertion = await mintAssertion(emulator, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject });
      const badScope = await exchange(emulator, BOOTSTRAP_IDENTITY.clientId, assertion, 'https://management.azure.com/user_impersonation');
      assert.equal(badScope.status, 400);
      assert.equal(badScope.body.error, 'invalid_scope');
      assert.match(badScope.body.error_description, /^AADSTS1002012:/);
    });

    it('shapes injected faults on the token endpoint as Entra errors', async () => {
      await control(emulator, 'POST', 'faults', { rules: [{ route: 'entra.token', status: 429, retryAfterSeconds: 3, times: 1 }] });
      const response = await exchange(emulator, BOOTSTRAP_IDENTITY.clientId, await mintAssertion(emulator, { subject: BOOTSTRAP_IDENTITY.testIssuerSubject }));
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('retry-after'), '3');
      assert.equal(response.body.error, 'temporarily_unavailable');
      assert.match(response.body.error_description, /^AADSTS90055:/);
    });
  });
});
