// Protects the emulator's Microsoft Graph answers that `az role assignment list` depends on: a managed
// identity found by its client id among servicePrincipalNames and by object id through getByIds, shaped as
// Graph shapes a ManagedIdentity service principal; a caller without directory read refused with 403
// Authorization_RequestDenied (the CLI's fallback path); tokens checked like Graph checks them.
import assert from 'node:assert/strict';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT, defaultAzureSeed } from '../azure/default-world';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';

const GRAPH_SCOPE = 'https://graph.microsoft.com//.default'; // as the CLI asks: resource id plus /.default

async function tokenFor(emulator: RunningEmulator, scope: string): Promise<string> {
  const { assertion } = await control<{ assertion: string }>(emulator, 'POST', 'test-issuer/assertions', { subject: BOOTSTRAP_IDENTITY.testIssuerSubject });
  const response = await fetch(`${emulator.ctx.urls.origin}/${DEFAULT_TENANT.id}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: BOOTSTRAP_IDENTITY.clientId, grant_type: 'client_credentials', scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });
  const body = (await response.json()) as { access_token: string };
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.access_token;
}

async function graph(emulator: RunningEmulator, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${emulator.ctx.urls.origin}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, json: await response.json() };
}

const byName = (clientId: string) => `/v1.0/servicePrincipals?$filter=${encodeURIComponent(`servicePrincipalNames/any(c:c eq '${clientId}')`)}`;

describe('emulator graph module', () => {
  let emulator: RunningEmulator;
  afterEach(async () => emulator?.close());

  it('refuses a caller that may not read the directory, as Graph refuses a managed identity', async () => {
    emulator = await startTestEmulator();
    const token = await tokenFor(emulator, GRAPH_SCOPE);
    const answer = await graph(emulator, 'GET', byName(BOOTSTRAP_IDENTITY.clientId), token);
    assert.equal(answer.status, 403);
    assert.equal(answer.json.error.code, 'Authorization_RequestDenied');
    assert.match(answer.json.error.innerError['request-id'], /^[0-9a-f-]{36}$/);
  });

  it('finds a managed identity by client id and by object id for a directory reader', async () => {
    emulator = await startTestEmulator({ seed: { azure: defaultAzureSeed(), graph: { directoryReaders: [BOOTSTRAP_IDENTITY.principalId] } } });
    const token = await tokenFor(emulator, GRAPH_SCOPE);

    const found = await graph(emulator, 'GET', byName(BOOTSTRAP_IDENTITY.clientId.toUpperCase()), token);
    assert.equal(found.status, 200, JSON.stringify(found.json));
    assert.equal(found.json.value.length, 1);
    const sp = found.json.value[0];
    assert.equal(sp.id, BOOTSTRAP_IDENTITY.principalId);
    assert.equal(sp.appId, BOOTSTRAP_IDENTITY.clientId);
    assert.equal(sp.servicePrincipalType, 'ManagedIdentity');
    assert.equal(sp['@odata.type'], '#microsoft.graph.servicePrincipal');
    assert.equal(sp.servicePrincipalNames[0], BOOTSTRAP_IDENTITY.clientId, 'the CLI shows servicePrincipalNames[0] as the principal name');
    assert.ok(sp.alternativeNames.includes(BOOTSTRAP_IDENTITY.resourceId));

    const none = await graph(emulator, 'GET', byName(BOOTSTRAP_IDENTITY.principalId), token);
    assert.deepEqual(none.json.value, [], 'an object id is not a service principal name');

    const byIds = await graph(emulator, 'POST', '/v1.0/directoryObjects/getByIds', token, { ids: [BOOTSTRAP_IDENTITY.principalId, '00000000-0000-4000-8000-000000000000'], types: ['user', 'group', 'servicePrincipal', 'directoryObjectPartnerReference'] });
    assert.equal(byIds.status, 200, JSON.stringify(byIds.json));
    assert.deepEqual(byIds.json.value.map((item: { id: string }) => item.id), [BOOTSTRAP_IDENTITY.principalId]);

    const onlyUsers = await graph(emulator, 'POST', '/v1.0/directoryObjects/getByIds', token, { ids: [BOOTSTRAP_IDENTITY.principalId], types: ['user'] });
    assert.deepEqual(onlyUsers.json.value, []);
  });

  it('lets POST settings grant directory read, and POST reset returns to the seed', async () => {
    emulator = await startTestEmulator();
    const token = await tokenFor(emulator, GRAPH_SCOPE);
    await control(emulator, 'POST', 'settings', { graph: { directoryReaders: [BOOTSTRAP_IDENTITY.principalId] } });
    assert.equal((await graph(emulator, 'GET', byName(BOOTSTRAP_IDENTITY.clientId), token)).status, 200);
    await control(emulator, 'POST', 'reset');
    assert.equal((await graph(emulator, 'GET', byName(BOOTSTRAP_IDENTITY.clientId), token)).status, 403, 'reset returns to the seed: no readers');
  });

  it('checks tokens as Graph does: missing, for another audience, or an unsupported filter', async () => {
    emulator = await startTestEmulator({ seed: { azure: defaultAzureSeed(), graph: { directoryReaders: [BOOTSTRAP_IDENTITY.principalId] } } });
    const missing = await graph(emulator, 'GET', byName(BOOTSTRAP_IDENTITY.clientId));
    assert.equal(missing.status, 401);
    assert.equal(missing.json.error.code, 'InvalidAuthenticationToken');

    const armToken = await tokenFor(emulator, 'https://management.azure.com/.default');
    const wrongAudience = await graph(emulator, 'GET', byName(BOOTSTRAP_IDENTITY.clientId), armToken);
    assert.equal(wrongAudience.status, 401);
    assert.match(wrongAudience.json.error.message, /Invalid audience/);

    const token = await tokenFor(emulator, GRAPH_SCOPE);
    const unsupported = await graph(emulator, 'GET', `/v1.0/servicePrincipals?$filter=${encodeURIComponent("startswith(displayName,'id')")}`, token);
    assert.equal(unsupported.status, 400);
    assert.equal(unsupported.json.error.code, 'Request_UnsupportedQuery');
  });

  it('refuses a seed section it does not know', async () => {
    await assert.rejects(startTestEmulator({ seed: { azure: defaultAzureSeed(), graph: { readers: [] } } }), /seed graph: unknown readers/);
  });
});
