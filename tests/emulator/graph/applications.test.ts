// Protects the emulator's app registrations (azure.applications), which the convert command's world needs: an
// app signs in with its client secret (a wrong one is AADSTS7000215), its token names its service principal's
// object id, and Graph finds that service principal by app id with servicePrincipalType Application.
import assert from 'node:assert/strict';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT, defaultAzureSeed } from '../azure/default-world';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';

const APP = { appId: '77777777-0000-4000-8000-0000000000aa', servicePrincipalId: '88888888-0000-4000-8000-0000000000aa', displayName: 'legacy-deployer', secrets: ['right-secret'] };

async function token(emulator: RunningEmulator, form: Record<string, string>): Promise<{ status: number; json: any }> {
  const response = await fetch(`${emulator.ctx.urls.origin}/${DEFAULT_TENANT.id}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...form }),
  });
  return { status: response.status, json: await response.json() };
}

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('emulator: app registrations with client secrets', () => {
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startTestEmulator({ seed: { azure: { ...defaultAzureSeed(), applications: [APP] }, graph: { directoryReaders: [BOOTSTRAP_IDENTITY.principalId] } } });
  });
  after(() => emulator.close());

  it('signs an app in with its secret, as its service principal; a wrong secret is AADSTS7000215', async () => {
    const ok = await token(emulator, { client_id: APP.appId, client_secret: 'right-secret', scope: 'https://management.azure.com/.default' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual([claims(ok.json.access_token).oid, claims(ok.json.access_token).appid], [APP.servicePrincipalId, APP.appId]);
    const wrong = await token(emulator, { client_id: APP.appId, client_secret: 'wrong-secret', scope: 'https://management.azure.com/.default' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error_description, /^AADSTS7000215: Invalid client secret provided/);
    const unknown = await token(emulator, { client_id: '77777777-0000-4000-8000-0000000000ff', client_secret: 'x', scope: 'https://management.azure.com/.default' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error_description, /^AADSTS700016:/);
  });

  it('Graph lists the app\'s service principal by app id, with its object id', async () => {
    const { assertion } = await control<{ assertion: string }>(emulator, 'POST', 'test-issuer/assertions', { subject: BOOTSTRAP_IDENTITY.testIssuerSubject });
    const signedIn = await token(emulator, { client_id: BOOTSTRAP_IDENTITY.clientId, scope: 'https://graph.microsoft.com/.default', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
    const response = await fetch(`${emulator.ctx.urls.origin}/v1.0/servicePrincipals?$filter=${encodeURIComponent(`appId eq '${APP.appId.toUpperCase()}'`)}`, { headers: { authorization: `Bearer ${signedIn.json.access_token}` } });
    const body = (await response.json()) as { value: Array<Record<string, unknown>> };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.value.map((sp) => [sp.id, sp.appId, sp.servicePrincipalType, sp.displayName]), [[APP.servicePrincipalId, APP.appId, 'Application', 'legacy-deployer']]);
  });
});
