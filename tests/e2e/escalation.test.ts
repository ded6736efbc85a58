// The takeover the escalation guard closes, end to end. Contributor on the dev subscription looks like an
// ordinary grant — the bootstrap identity's delegation condition allows it — but that subscription holds the
// bootstrap identity: the new connection could write a federated credential onto it and sign in as it. This
// suite protects: the task refuses such a grant before any write (MIC310), naming the bootstrap identity it
// found by the bootstrap connection's client id; custom roles are judged by their actions; and, so that the
// guard is not guarding against nothing, the path is real: once granted (allowPrivilegedRoles), the
// connection's own federated sign-in writes a credential onto the bootstrap identity (201).
import assert from 'node:assert/strict';
import { BOOTSTRAP_IDENTITY } from '../emulator/azure/default-world';
import { ARM_API, connectionNamed, DEV, devEnvironment, e2eWorld, identityNamed, specText, transcript, TOKEN_EXCHANGE_AUDIENCE } from './harness';

const subscriptionContributor = specText([{ ...devEnvironment, connections: [{ name: 'app-dev' }], roles: [{ role: 'Contributor', scope: `/subscriptions/${DEV}` }] }]);
const FIC_WRITER_GUID = '0f1c0000-0000-4000-8000-0000000000f1';

describe('e2e: escalation guard', function () {
  this.timeout(120_000);
  const world = e2eWorld();

  it('refuses Contributor on the subscription holding the bootstrap identity: MIC310 naming it, nothing written', async () => {
    const run = await world.run({ environments: subscriptionContributor });
    assert.equal(run.result, 'Failed', transcript(run));
    const refusal = run.problems.find((problem) => problem.code === 'MIC310');
    assert.ok(refusal, transcript(run));
    assert.equal(refusal.environment, 'dev');
    assert.match(refusal.text, new RegExp(`the bootstrap identity ${BOOTSTRAP_IDENTITY.name}`));
    assert.match(refusal.text, /identity resource group rg-identities/);
    assert.match(refusal.text, /federatedIdentityCredentials\/write/);
    assert.match(run.stdout, new RegExp(`bootstrap identity is ${BOOTSTRAP_IDENTITY.resourceId.replace(/[/.]/g, '\\$&')}.*client id`, 'i'));
    assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
    assert.equal(identityNamed(world.state(), 'id-ado-dev'), undefined);
    assert.ok(run.summaries.some((summary) => summary.includes(`- Escalation guard: the bootstrap identity is ${BOOTSTRAP_IDENTITY.resourceId}`)), 'the summary says what the guard found');
  });

  it('judges a custom role by its actions: one that only writes federated credentials is refused on the bootstrap group', async () => {
    const put = await world.armAsSystem('PUT', `/subscriptions/${DEV}/providers/Microsoft.Authorization/roleDefinitions/${FIC_WRITER_GUID}?${ARM_API}`, {
      properties: {
        roleName: 'Federated Credential Writer',
        type: 'CustomRole',
        permissions: [{ actions: ['Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/*'], notActions: [] }],
        assignableScopes: [`/subscriptions/${DEV}`],
      },
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const spec = specText([{ ...devEnvironment, roles: [...devEnvironment.roles, { role: 'Federated Credential Writer', scope: `/subscriptions/${DEV}/resourceGroups/${BOOTSTRAP_IDENTITY.resourceGroup}` }] }]);
    const run = await world.run({ environments: spec, command: 'plan' });
    assert.equal(run.result, 'Failed', transcript(run));
    const refusal = run.problems.find((problem) => problem.code === 'MIC310');
    assert.ok(refusal, transcript(run));
    assert.match(refusal.text, /Federated Credential Writer/);
    assert.match(refusal.text, new RegExp(`the bootstrap identity ${BOOTSTRAP_IDENTITY.name}`));
    assert.equal(run.writes.length, 0);
  });

  it('the path is real: granted anyway (allowPrivilegedRoles, MIC313), the connection signs in and writes a credential onto the bootstrap identity', async () => {
    const run = await world.run({ environments: subscriptionContributor, allowPrivilegedRoles: 'true' });
    assert.equal(run.result, 'SucceededWithIssues', transcript(run));
    assert.ok(run.warnings.some((warning) => warning.includes('MIC313') && warning.includes(BOOTSTRAP_IDENTITY.name)), transcript(run));
    const identity = identityNamed(world.state(), 'id-ado-dev');
    const connection = connectionNamed(world.state(), 'app-dev');
    assert.ok(identity && connection);

    // A job of the pipeline using app-dev asks for its ID token and exchanges it, as AzureCLI@2 would.
    const job = await world.control<{ agentEnv: Record<string, string> }>('POST', 'devops/jobs', { connections: ['app-dev'] });
    const oidc = await fetch(`${job.agentEnv['SYSTEM_OIDCREQUESTURI']}?api-version=7.1&serviceConnectionId=${connection.id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${job.agentEnv['SECRET_SYSTEM_ACCESSTOKEN']}`, 'content-length': '0' },
    });
    assert.equal(oidc.status, 200, await oidc.clone().text());
    const { oidcToken } = (await oidc.json()) as { oidcToken: string };
    const info = world.info;
    const token = await fetch(`${info.authorityHost}/${info.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: identity.properties.clientId,
        scope: 'https://management.azure.com/.default',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: oidcToken,
      }),
    });
    assert.equal(token.status, 200, await token.clone().text());
    const { access_token: accessToken } = (await token.json()) as { access_token: string };

    const takeover = await fetch(`${info.armEndpoint}${BOOTSTRAP_IDENTITY.resourceId}/federatedIdentityCredentials/attacker?api-version=2023-01-31`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { issuer: 'https://attacker.example', subject: 'me', audiences: [TOKEN_EXCHANGE_AUDIENCE] } }),
    });
    assert.equal(takeover.status, 201, await takeover.text());
  });
});
