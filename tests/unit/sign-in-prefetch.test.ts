// The sign-in's first requests, sent before the Azure SDKs load, against the in-process emulator: the job's
// OIDC token and the authority's OpenID configuration go out together and come back keyed as MSAL will ask for
// them, the OIDC token is masked on arrival, an authority MSAL knows by heart is not asked, a proxy or an
// unreachable host leaves MSAL to send its own requests — and `onTheWire` never waits for an answer.
import * as assert from 'node:assert/strict';
import {
  answerKey,
  oidcTokenUrl,
  openIdConfigurationUrl,
  prefetchSignIn,
  type SignInPrefetchSettings,
} from '../../tasks/ManagedIdentityConnections/src/adapters/sign-in-prefetch';
import type { RunningEmulator } from '../emulator/emulator';
import { jsonLine } from '../emulator/json-line';
import { control, startTestEmulator } from '../helpers/emulator';

describe('the sign-in prefetch', function () {
  this.timeout(20_000);
  let emulator: RunningEmulator;
  let settings: SignInPrefetchSettings;
  const masked: string[] = [];

  before(async () => {
    emulator = await startTestEmulator();
    const info = jsonLine(emulator);
    settings = {
      oidcRequestUri: info.agentEnv['SYSTEM_OIDCREQUESTURI'],
      connectionId: info.bootstrapConnection.id,
      systemAccessToken: info.systemAccessToken,
      authorityHost: info.authorityHost,
      tenantId: info.tenantId,
      setSecret: (value) => masked.push(value),
      env: {},
    };
  });
  after(() => emulator.close());

  it('asks for the OIDC token and the OpenID configuration at once, keyed as MSAL asks, and masks the token', async () => {
    const before = await control<{ log: unknown[] }>(emulator, 'GET', 'requests');
    const prefetch = prefetchSignIn(settings);
    await prefetch.onTheWire;
    const oidcKey = answerKey('POST', oidcTokenUrl(settings.oidcRequestUri!, settings.connectionId));
    const openIdKey = answerKey('GET', openIdConfigurationUrl(settings.authorityHost, settings.tenantId));
    assert.deepEqual([...prefetch.answers.keys()], [oidcKey, openIdKey]);

    const oidc = await prefetch.answers.get(oidcKey);
    assert.equal(oidc?.status, 200);
    const token = (JSON.parse(oidc.body) as { oidcToken: string }).oidcToken;
    assert.ok(masked.includes(token), 'the OIDC token is masked on arrival');
    const openId = await prefetch.answers.get(openIdKey);
    assert.equal(openId?.status, 200);
    assert.match((JSON.parse(openId.body) as { token_endpoint: string }).token_endpoint, /\/oauth2\/v2\.0\/token$/);

    const after = await control<{ log: Array<{ route: string }> }>(emulator, 'GET', `requests?since=${before.log.length}`);
    assert.deepEqual(after.log.map((entry) => entry.route).sort(), ['devops.oidctoken', 'entra.openid-configuration']);
  });

  it('does not ask for the OpenID configuration of an authority MSAL carries built in', () => {
    const prefetch = prefetchSignIn({ ...settings, oidcRequestUri: undefined, authorityHost: 'https://login.microsoftonline.com/' });
    assert.equal(prefetch.answers.size, 0);
  });

  it('sends nothing behind a proxy: the SDKs go through it, so MSAL sends its own requests', async () => {
    const prefetch = prefetchSignIn({ ...settings, env: { HTTPS_PROXY: 'http://proxy.example:8080' } });
    assert.equal(prefetch.answers.size, 0);
    await prefetch.onTheWire;
  });

  it('answers undefined for a host that cannot be reached, so that MSAL asks again', async () => {
    const prefetch = prefetchSignIn({ ...settings, oidcRequestUri: 'https://127.0.0.1:1/oidctoken', authorityHost: 'https://127.0.0.1:1' });
    await prefetch.onTheWire;
    for (const answer of prefetch.answers.values()) assert.equal(await answer, undefined);
    assert.equal(prefetch.answers.size, 2);
  });
});
