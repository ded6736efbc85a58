// The job's OIDC token is reused within its lifetime (MSAL asks for the client assertion twice per sign-in,
// and each ask is a round trip to Azure DevOps), but never past it, never after a failure, and never for
// any other request; an authority's OpenID configuration is read once; answers prefetched before the SDKs
// loaded (sign-in-prefetch.ts) serve the first ask.
import * as assert from 'node:assert/strict';
import { createHttpHeaders, createPipelineRequest, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { reusedSignInAnswersPolicy as oidcTokenCachePolicy } from '../../tasks/ManagedIdentityConnections/src/adapters/reused-sign-in-answers';
import type { Answer } from '../../tasks/ManagedIdentityConnections/src/adapters/sign-in-prefetch';

const OIDC_URL = 'https://dev.azure.com/contoso/p/_apis/distributedtask/hubs/build/plans/x/jobs/y/oidctoken?api-version=7.1&serviceConnectionId=c';

function jwt(expiresAtMs: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part({ exp: Math.floor(expiresAtMs / 1000) })}.signature`;
}

function server(answers: Array<{ status: number; body: string }>) {
  const seen: PipelineRequest[] = [];
  return {
    seen,
    next: async (request: PipelineRequest): Promise<PipelineResponse> => {
      seen.push(request);
      const answer = answers.shift() ?? { status: 500, body: '' };
      return { request, status: answer.status, headers: createHttpHeaders({ 'content-type': 'application/json' }), bodyAsText: answer.body };
    },
  };
}

const post = (url = OIDC_URL) => createPipelineRequest({ url, method: 'POST' });

describe('the reused sign-in answers policy', () => {
  const now = 1_800_000_000_000;

  it('GIVEN a token valid for an hour WHEN the assertion is asked for twice THEN Azure DevOps is called once', async () => {
    const token = jwt(now + 3600_000);
    const fake = server([{ status: 200, body: JSON.stringify({ oidcToken: token }) }]);
    const policy = oidcTokenCachePolicy(new Map(), () => now);
    const first = await policy.sendRequest(post(), fake.next);
    const second = await policy.sendRequest(post(), fake.next);
    assert.equal(fake.seen.length, 1);
    assert.equal(JSON.parse(second.bodyAsText ?? '').oidcToken, token);
    assert.equal(second.status, first.status);
  });

  it('GIVEN a token within a minute of expiry THEN it is fetched again', async () => {
    const fake = server([
      { status: 200, body: JSON.stringify({ oidcToken: jwt(now + 30_000) }) },
      { status: 200, body: JSON.stringify({ oidcToken: jwt(now + 3600_000) }) },
    ]);
    const policy = oidcTokenCachePolicy(new Map(), () => now);
    await policy.sendRequest(post(), fake.next);
    await policy.sendRequest(post(), fake.next);
    assert.equal(fake.seen.length, 2);
  });

  it('GIVEN a refused request THEN the next ask goes to Azure DevOps again', async () => {
    const fake = server([
      { status: 404, body: JSON.stringify({ message: 'not referenced' }) },
      { status: 200, body: JSON.stringify({ oidcToken: jwt(now + 3600_000) }) },
    ]);
    const policy = oidcTokenCachePolicy(new Map(), () => now);
    assert.equal((await policy.sendRequest(post(), fake.next)).status, 404);
    assert.equal((await policy.sendRequest(post(), fake.next)).status, 200);
    assert.equal(fake.seen.length, 2);
  });

  it('keeps one token per connection, and lets every other request through untouched', async () => {
    const fake = server([
      { status: 200, body: JSON.stringify({ oidcToken: jwt(now + 3600_000) }) },
      { status: 200, body: JSON.stringify({ oidcToken: jwt(now + 3600_000) }) },
      { status: 200, body: '{}' },
      { status: 200, body: '{}' },
    ]);
    const policy = oidcTokenCachePolicy(new Map(), () => now);
    await policy.sendRequest(post(), fake.next);
    await policy.sendRequest(post(OIDC_URL.replace('serviceConnectionId=c', 'serviceConnectionId=d')), fake.next);
    await policy.sendRequest(post('https://login.example/tenant/oauth2/v2.0/token'), fake.next);
    await policy.sendRequest(post('https://login.example/tenant/oauth2/v2.0/token'), fake.next);
    assert.equal(fake.seen.length, 4);
  });

  const OPENID_URL = 'https://login.example/tenant/v2.0/.well-known/openid-configuration';
  const openIdConfiguration = JSON.stringify({ token_endpoint: 'https://login.example/tenant/oauth2/v2.0/token', issuer: 'https://login.example/tenant/v2.0' });
  const get = (url = OPENID_URL) => createPipelineRequest({ url, method: 'GET' });

  it('reads an authority\'s OpenID configuration once, and keeps no failed one', async () => {
    const fake = server([
      { status: 503, body: '' },
      { status: 200, body: openIdConfiguration },
    ]);
    const policy = oidcTokenCachePolicy(new Map(), () => now);
    assert.equal((await policy.sendRequest(get(), fake.next)).status, 503);
    assert.equal((await policy.sendRequest(get(), fake.next)).bodyAsText, openIdConfiguration);
    assert.equal((await policy.sendRequest(get(), fake.next)).bodyAsText, openIdConfiguration);
    assert.equal(fake.seen.length, 2);
  });

  it('answers the first asks from prefetched answers, and sends again what the prefetch could not get', async () => {
    const token = jwt(now + 3600_000);
    const prefetched = new Map<string, Promise<Answer | undefined>>([
      [`POST ${OIDC_URL}`, Promise.resolve({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ oidcToken: token }) })],
      [`GET ${OPENID_URL}`, Promise.resolve(undefined)],
    ]);
    const fake = server([{ status: 200, body: openIdConfiguration }]);
    const policy = oidcTokenCachePolicy(prefetched, () => now);
    const oidc = await policy.sendRequest(post(), fake.next);
    assert.equal(JSON.parse(oidc.bodyAsText ?? '').oidcToken, token);
    assert.equal(oidc.headers.get('content-type'), 'application/json');
    assert.equal((await policy.sendRequest(get(), fake.next)).bodyAsText, openIdConfiguration);
    assert.deepEqual(fake.seen.map((request) => `${request.method} ${request.url}`), [`GET ${OPENID_URL}`]);
  });

  it('does not reuse a prefetched refusal', async () => {
    const prefetched = new Map<string, Promise<Answer | undefined>>([[`POST ${OIDC_URL}`, Promise.resolve({ status: 401, headers: {}, body: '{"message":"no"}' })]]);
    const fake = server([{ status: 200, body: JSON.stringify({ oidcToken: jwt(now + 3600_000) }) }]);
    const policy = oidcTokenCachePolicy(prefetched, () => now);
    assert.equal((await policy.sendRequest(post(), fake.next)).status, 200);
    assert.equal(fake.seen.length, 1);
  });
});
