// The convert command against the emulator with the real clients and the bundled task (docs/lifecycle.md,
// "Convert"): a service-principal-secret connection ends on workload identity federation as a new owned
// managed identity with the service principal's roles, verified by Azure DevOps' own TestConnection; a failed
// verification rolls it back to its secret; a kill at every write is finished by a rerun; refusals write nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resourceGroupResourceId, subscriptionResourceId } from '../emulator/azure/ids';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP } from '../emulator/azure/default-world';
import type { SeedDocument } from '../emulator/kernel/context';
import { defaultSeed } from '../emulator/modules';
import type { AzureSeed } from '../emulator/azure/seed';
import type { DevOpsSeed } from '../emulator/devops/seed';
import { assignmentsOf, connectionNamed, credentialsOf, DEV, e2eWorld, identityNamed, requestsTo, roleGuid, transcript, type MicRun } from './harness';

const LEGACY_APP = '77777777-0000-4000-8000-000000000001';
const LEGACY_SP = '88888888-0000-4000-8000-000000000001';
const OTHER_APP = '77777777-0000-4000-8000-000000000002';
const SECRET = 'legacy-client-secret-value-1';
const CONNECTION_ID = 'c0ffee00-0000-4000-8000-000000000001';
const IDENTITY_NAME = `id-convert-legacy-app-${CONNECTION_ID.slice(0, 8)}`;

function secretConnection(name: string, appId: string, secret: string, id?: string): DevOpsSeed['serviceConnections'][number] {
  return {
    ...(id ? { id } : {}),
    project: 'Platform',
    createdBy: 'buildService',
    name,
    type: 'AzureRM',
    url: 'https://management.azure.com/',
    authorization: { scheme: 'ServicePrincipal', parameters: { serviceprincipalid: appId, serviceprincipalkey: secret, tenantid: DEFAULT_TENANT.id, authenticationType: 'spnKey' } },
    data: { subscriptionId: DEV_SUBSCRIPTION.id, subscriptionName: DEV_SUBSCRIPTION.name, environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual' },
  };
}

/** The default world plus an app registration with a secret, its roles, two secret connections and Graph read rights. */
function convertSeed(): SeedDocument {
  const seed = defaultSeed();
  const azure = seed.azure as AzureSeed;
  const devops = seed.devops as DevOpsSeed;
  azure.applications = [
    { appId: LEGACY_APP, servicePrincipalId: LEGACY_SP, displayName: 'legacy-deployer', secrets: [SECRET] },
    { appId: OTHER_APP, servicePrincipalId: '88888888-0000-4000-8000-000000000002', displayName: 'other-deployer', secrets: ['other-secret-value'] },
  ];
  azure.roleAssignments = [
    ...(azure.roleAssignments ?? []),
    { name: '99999999-0000-4000-8000-000000000001', scope: resourceGroupResourceId(DEV, 'rg-app-dev'), roleName: 'Contributor', principalId: LEGACY_SP, principalType: 'ServicePrincipal' },
    { name: '99999999-0000-4000-8000-000000000002', scope: subscriptionResourceId(DEV), roleName: 'Reader', principalId: LEGACY_SP, principalType: 'ServicePrincipal' },
  ];
  devops.serviceConnections = [...devops.serviceConnections, secretConnection('legacy-app', LEGACY_APP, SECRET, CONNECTION_ID), secretConnection('other-secret', OTHER_APP, 'other-secret-value')];
  return { ...seed, graph: { directoryReaders: [BOOTSTRAP_IDENTITY.principalId] } };
}

const convertInputs = {
  command: 'convert',
  convertConnections: 'legacy-app',
  convertIdentityResourceGroup: `/subscriptions/${DEV}/resourceGroups/${IDENTITY_RESOURCE_GROUP}`,
  convertIdentityLocation: 'westeurope',
  propagationTimeoutSeconds: '10',
};

describe('e2e: convert (service principal secret → workload identity on a managed identity)', () => {
  const world = e2eWorld({ emulator: { seed: convertSeed() } });
  // Azure DevOps documents ConvertAuthenticationScheme for Automatic connections only; these tests let the
  // emulated service convert Manual ones too (devops.convertManualConnections, [U]) except where they test the refusal.
  beforeEach(() => world.control('POST', 'settings', { devops: { convertManualConnections: true } }));

  /** The converted end state: WIF on the owned identity, same roles, our credential, TestConnection ok, secret kept for a revert. */
  async function assertConverted(): Promise<void> {
    const state = world.state();
    const identity = identityNamed(state, IDENTITY_NAME);
    assert.ok(identity, 'the identity exists');
    assert.deepEqual(
      [identity.tags['managed-by'], identity.tags['managed-by-connection'], identity.tags['converted-from-app']],
      ['ManagedIdentityConnections', CONNECTION_ID, LEGACY_APP],
    );
    const connection = connectionNamed(state, 'legacy-app')!;
    assert.equal(connection.authorization.scheme, 'WorkloadIdentityFederation');
    assert.equal(connection.authorization.parameters.serviceprincipalid, identity.properties.clientId);
    assert.ok(connection.data.revertSchemeDeadline, 'the service kept what a revert needs');
    const credentials = credentialsOf(state, identity);
    assert.deepEqual(
      credentials.map((credential) => [credential.name, credential.properties.issuer, credential.properties.subject]),
      [['azdo-legacy-app', connection.authorization.parameters.workloadIdentityFederationIssuer, connection.authorization.parameters.workloadIdentityFederationSubject]],
    );
    const roles = assignmentsOf(state, identity.properties.principalId).map((assignment) => [assignment.properties.scope.toLowerCase(), assignment.properties.roleDefinitionId.split('/').pop()]);
    assert.deepEqual(roles.sort(), [
      [resourceGroupResourceId(DEV, 'rg-app-dev').toLowerCase(), roleGuid('Contributor')],
      [subscriptionResourceId(DEV).toLowerCase(), roleGuid('Reader')],
    ].sort());
    assert.equal((await world.testConnection(CONNECTION_ID)).statusCode, 'ok');
    // Not selected, not touched; the old service principal keeps its roles (never deleted).
    assert.equal(connectionNamed(state, 'other-secret')!.authorization.scheme, 'ServicePrincipal');
    assert.equal(assignmentsOf(state, LEGACY_SP).length, 2);
  }

  it('converts: identity, role parity, switch, credential from the read-back pair, verified; a rerun writes nothing', async function () {
    this.timeout(30_000);
    const run = await world.run(convertInputs);
    assert.equal(run.result, 'Succeeded', transcript(run));
    await assertConverted();
    assert.ok(run.log.some((line) => /role parity: service principal 77777777-0000-4000-8000-000000000001 has Contributor on/.test(line)), transcript(run));
    assert.ok(run.log.some((line) => /app registration 77777777-0000-4000-8000-000000000001 is kept \(never deleted\)/.test(line)), transcript(run));
    assert.equal(run.outputs.changesPresent, 'true');
    assert.match(run.summaries.join('\n'), /\| legacy-app \| 77777777-0000-4000-8000-000000000001 \(kept, not deleted\) \| id-convert-legacy-app-c0ffee00 \| 2 \| converted \|/);
    const again = await world.run(convertInputs);
    assert.equal(again.result, 'Succeeded', transcript(again));
    assert.deepEqual(again.writes, [], 'the rerun writes nothing');
    assert.equal(again.outputs.changesPresent, 'false');
  });

  it('rolls the connection back to its secret when it does not verify in time (MIC444)', async function () {
    this.timeout(60_000);
    // Entra does not see the new credential within propagationTimeoutSeconds.
    await world.control('POST', 'delays', { ficPropagationMs: 600_000 });
    const run = await world.run(convertInputs);
    assert.equal(run.result, 'Failed', transcript(run));
    assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC444'], transcript(run));
    const connection = connectionNamed(world.state(), 'legacy-app')!;
    assert.equal(connection.authorization.scheme, 'ServicePrincipal');
    assert.equal(connection.authorization.parameters.serviceprincipalid, LEGACY_APP);
    // The secret is back: Azure DevOps signs in with it again.
    assert.equal((await world.testConnection(CONNECTION_ID)).statusCode, 'ok');
    // Once the cause is gone, a rerun converts.
    await world.control('POST', 'delays', { ficPropagationMs: 0 });
    const rerun = await world.run(convertInputs);
    assert.equal(rerun.result, 'Succeeded', transcript(rerun));
    await assertConverted();
  });

  it('dryRun prints the plan and the summary, and writes nothing', async () => {
    const run = await world.run({ ...convertInputs, dryRun: 'true' });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(run.writes, [], 'nothing was written');
    assert.equal(run.outputs.changesPresent, 'true');
    assert.ok(run.log.some((line) => /\+ switch the connection to workload identity federation/.test(line)), transcript(run));
    assert.match(run.summaries.join('\n'), /Convert \(dry run: nothing written\)[\s\S]*\| legacy-app \|.*\| planned: 6 steps \|/);
    assert.equal(connectionNamed(world.state(), 'legacy-app')!.authorization.scheme, 'ServicePrincipal');
  });

  it('a Microsoft Graph answer of 503 is retried like any transient failure, and the conversion goes on', async function () {
    this.timeout(30_000);
    await world.control('POST', 'faults', { rules: [{ route: 'graph.service-principals.list', status: 503, times: 1 }] });
    const run = await world.run(convertInputs);
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(requestsTo(run.requests, 'graph.service-principals.list').map((entry) => entry.status), [503, 200]);
    await assertConverted();
  });

  describe('the unverified answers of Azure DevOps, switched', () => {
    it('a service that refuses another client id in the conversion: MIC443, the connection keeps its secret', async () => {
      await world.control('POST', 'settings', { devops: { convertAllowsNewClientId: false } });
      const run = await world.run(convertInputs);
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC443'], transcript(run));
      assert.equal(connectionNamed(world.state(), 'legacy-app')!.authorization.scheme, 'ServicePrincipal');
      assert.equal((await world.testConnection(CONNECTION_ID)).statusCode, 'ok');
    });

    it('a service that drops the secret when converting: a failed verification cannot be rolled back, and MIC444 says so', async function () {
      this.timeout(60_000);
      await world.control('POST', 'settings', { devops: { convertKeepsSecret: false } });
      await world.control('POST', 'delays', { ficPropagationMs: 600_000 });
      const run = await world.run(convertInputs);
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC444'], transcript(run));
      assert.ok(run.errors.some((error) => /roll-back to its secret failed too/.test(error)), transcript(run));
      // Still converted (nothing could be restored); once the credential propagates, a rerun finishes it.
      assert.equal(connectionNamed(world.state(), 'legacy-app')!.authorization.scheme, 'WorkloadIdentityFederation');
      await world.control('POST', 'delays', { ficPropagationMs: 0 });
      const rerun = await world.run(convertInputs);
      assert.equal(rerun.result, 'Succeeded', transcript(rerun));
    });
  });

  describe('killed at every write, finished by a rerun', () => {
    const killer = join(__dirname, 'instrumentation', 'kill-on-request.js');
    const steps: [string, string][] = [
      ['creating the identity', '^PUT [^ ]*userAssignedIdentities/[^/ ?]+\\?'],
      ['copying a role', '^PUT [^ ]*roleAssignments/'],
      ['switching the connection', '^PUT [^ ]*serviceendpoint/endpoints/[^ ]*operation=ConvertAuthenticationScheme'],
      ['writing the credential', '^PUT [^ ]*federatedIdentityCredentials/'],
      ['verifying', '^POST [^ ]*endpointproxy'],
    ];
    for (const [step, killOn] of steps) {
      it(`killed while ${step}`, async function () {
        this.timeout(60_000);
        const killed = await world.run(convertInputs, { extraEnv: { NODE_OPTIONS: `--require ${killer}`, MIC_KILL_ON: killOn } });
        assert.equal(killed.result, undefined, `the task was killed before it finished: ${transcript(killed)}`);
        const rerun = await world.run(convertInputs);
        assert.equal(rerun.result, 'Succeeded', transcript(rerun));
        await assertConverted();
        const third = await world.run(convertInputs);
        assert.deepEqual(third.writes, [], 'nothing left to do');
      });
    }
  });

  describe('refusals write nothing', () => {
    function assertUntouched(run: MicRun, code: string): void {
      assert.equal(run.result, 'Failed', transcript(run));
      assert.ok(run.problems.some((problem) => problem.code === code), transcript(run));
      assert.deepEqual(run.writes, [], 'nothing was written');
      assert.equal(connectionNamed(world.state(), 'legacy-app')!.authorization.scheme, 'ServicePrincipal');
    }

    it('a connection that does not use a secret (the bootstrap connection) or does not exist: MIC441 naming the input', async () => {
      const run = await world.run({ ...convertInputs, convertConnections: 'legacy-app,bootstrap,no-such-connection' });
      assertUntouched(run, 'MIC441');
      assert.deepEqual(run.problems.filter((problem) => problem.code === 'MIC441').map((problem) => problem.field), ['convertConnections', 'convertConnections']);
      assert.equal(connectionNamed(world.state(), 'bootstrap')!.authorization.scheme, 'WorkloadIdentityFederation');
    });

    it('without Microsoft Graph read rights: MIC442', async () => {
      await world.control('POST', 'settings', { graph: { directoryReaders: [] } });
      assertUntouched(await world.run(convertInputs), 'MIC442');
    });

    it('every bad input: MIC440 naming the field, before any request', async () => {
      for (const [inputs, field] of [
        [{ convertConnections: '' }, 'convertConnections'],
        [{ convertIdentityResourceGroup: 'rg-identities' }, 'convertIdentityResourceGroup'],
        [{ convertIdentityLocation: '' }, 'convertIdentityLocation'],
      ] as const) {
        const run = await world.run({ ...convertInputs, ...inputs });
        assert.equal(run.result, 'Failed', transcript(run));
        assert.ok(run.problems.some((problem) => problem.code === 'MIC440' && problem.field === field), transcript(run));
        assert.deepEqual(run.requests, [], 'no request at all');
      }
    });

    it('Azure DevOps refusing the conversion (documented: Automatic connections only): MIC443, the connection keeps its secret', async () => {
      await world.control('POST', 'settings', { devops: { convertManualConnections: false } });
      const run = await world.run(convertInputs);
      assert.equal(run.result, 'Failed', transcript(run));
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC443'], transcript(run));
      const connection = connectionNamed(world.state(), 'legacy-app')!;
      assert.deepEqual([connection.authorization.scheme, connection.authorization.parameters.serviceprincipalid], ['ServicePrincipal', LEGACY_APP]);
      assert.equal((await world.testConnection(CONNECTION_ID)).statusCode, 'ok', 'it still signs in with its secret');
    });
  });
});
