// Protects issue 5's promise end to end: after the bundled task itself provisioned a connection on the
// emulator (as the agent runs it), templates/scripts/smoke-test.sh — run by the real Azure CLI through the
// emulator's proxy, with the ID token a job that references the new connection gets, and with the task's
// `environments` output — passes for that connection, and fails naming the cause when the organization
// moved the connection to the other issuer, when a declared role was removed, and when the identity's
// federated credential was rewritten to another subject.
//
// smoke.test.ts covers the script's other cases on worlds it seeds directly; this file proves the script
// and the task agree (names, outputs, the credential the task writes). Skipped only when `az` is missing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DEFAULT_TENANT, DEV_SUBSCRIPTION } from '../emulator/azure/default-world';
import type { RunningEmulator } from '../emulator/emulator';
import { jsonLine } from '../emulator/json-line';
import { control, startTestEmulator } from '../helpers/emulator';
import { runTask, type TaskRun } from '../../scripts/lib/run-task';
import { readText, templatesDir } from './repository-files';
import { armAsBootstrap, azAvailable, AzSession, devOpsConnectionToken, type FederatedConnection, type ProcessResult } from './az-harness';

const SUBSCRIPTION = DEV_SUBSCRIPTION.id;
const TARGET_SCOPE = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-app-dev`;
// Reader on the subscription besides Contributor on the group: with Contributor removed, the identity can
// still sign in and list its assignments, so the check that fails is the missing role itself.
const ROLES = [
  { role: 'Reader', scope: `/subscriptions/${SUBSCRIPTION}` },
  { role: 'Contributor', scope: TARGET_SCOPE },
];
const SPEC = {
  version: 1,
  defaults: { subscriptionId: SUBSCRIPTION, identityResourceGroup: 'rg-identities', location: 'westeurope' },
  // The connection relies on defaults.subscriptionId, as most specs do: the template cannot apply defaults.
  environments: [{ name: 'dev', connections: [{ name: 'app-dev', resourceGroup: 'rg-app-dev' }], roles: ROLES }],
};

interface EnvironmentsOutput {
  dev: { identity: { name: string; resourceId: string; clientId: string; principalId: string; tenantId: string }; connections: { 'app-dev': { id: string } } };
}

// The cases share one provisioned world (one task run is the slow part) and run in order: the passing case
// first, on the world as the task left it; each failing case then changes one thing out of band.
describe('the smoke test after the task provisioned the connection', function () {
  this.timeout(240_000);
  let emulator: RunningEmulator;
  let provision: TaskRun;
  let environments: EnvironmentsOutput;
  let connectionId: string;
  const sessions: AzSession[] = [];

  /** A fresh agent job's Azure CLI (its own config directory, so no earlier sign-in is reused). */
  function newSession(): AzSession {
    const session = new AzSession(emulator);
    sessions.push(session);
    return session;
  }

  /** The new connection as AzureCLI@2 sees it in a job that references it: client id, tenant, a fresh ID token. */
  async function connectionInNewJob(): Promise<FederatedConnection> {
    const { clientId, tenantId } = environments.dev.identity;
    return { clientId, tenantId, idToken: await devOpsConnectionToken(emulator, connectionId) };
  }

  /** What the verification run's smoke job passes: the spec's expectations and the task's output. */
  function smokeTest(session: AzSession, connection: FederatedConnection): Promise<ProcessResult> {
    return session.smokeTest(connection, [
      '--subscription-id', SUBSCRIPTION,
      '--resource-group', 'rg-app-dev',
      '--roles', JSON.stringify(ROLES),
      '--connection', 'app-dev',
      '--environments-output', provision.outputs.environments!,
      '--environment', 'dev',
    ]);
  }

  function assertFailedWith(result: ProcessResult, message: RegExp): void {
    assert.equal(result.status, 1, result.output);
    assert.match(result.stderr, message, result.output);
    assert.match(result.stderr, /Smoke test of connection 'app-dev' \(identity client id [0-9a-f-]{36}\) failed/, result.output);
  }

  before(async function () {
    if (!azAvailable()) {
      console.log('      (skipped: the Azure CLI `az` is not installed; CI installs Debian\'s azure-cli: apt-get install -y --no-install-recommends azure-cli)');
      this.skip();
    }
    // A new credential takes a moment to work, so the task's own verification has to wait for it.
    emulator = await startTestEmulator({ settings: { ficPropagationMs: 500 } });
    const info = jsonLine(emulator);
    provision = await runTask({
      env: info.agentEnv,
      inputs: { command: 'provision', bootstrapConnection: info.bootstrapConnection.id, environments: JSON.stringify(SPEC) },
    });
    assert.equal(provision.result, 'Succeeded', `${provision.log.join('\n')}\n${provision.stderr}`);
    environments = JSON.parse(provision.outputs.environments!) as EnvironmentsOutput;
    connectionId = environments.dev.connections['app-dev'].id;
  });

  afterEach(() => {
    for (const session of sessions.splice(0)) session.dispose();
  });

  after(async () => {
    await emulator?.close();
  });

  it('passes for the connection the task created, signed in as AzureCLI@2 signs in', async () => {
    const session = newSession();
    const connection = await connectionInNewJob();
    assert.equal(provision.outputs.identityClientId_dev, connection.clientId, 'the per-environment output the verify job reads agrees with `environments`');
    await session.signInAsAzureCli2(connection, SUBSCRIPTION);
    const result = await smokeTest(session, connection);
    assert.equal(result.status, 0, result.output);
    assert.match(result.stdout, new RegExp(`ok: signed in as the identity \\(client id ${connection.clientId}\\)`));
    assert.match(result.stdout, new RegExp(`ok: tenant ${DEFAULT_TENANT.id}`), 'the tenant came from the environments output');
    assert.match(result.stdout, /ok: role Reader at \/subscriptions\/22222222-0000-4000-8000-000000000001\n/);
    assert.match(result.stdout, /ok: role Contributor at \/subscriptions\/22222222-0000-4000-8000-000000000001\/resourceGroups\/rg-app-dev/);
    // The federated credential the task wrote trusts what Azure DevOps issues for the new connection.
    assert.match(result.stdout, new RegExp(`issuer 'https://login\\.microsoftonline\\.com/${DEFAULT_TENANT.id}/v2\\.0', subject '/eid1/c/pub/t/[^']+/sc/[0-9a-f-]{36}/${connectionId}'`));
    assert.match(result.stdout, new RegExp(`Smoke test of connection 'app-dev' \\(identity client id ${connection.clientId}\\) passed\\.`));
  });

  it('passes given only what the verify job passes: the subscription (from defaults) and resource group come from the environments output', async () => {
    // templates/jobs/verify-connection.yml passes the connection's name, the environment, its roles and the
    // task's output — nothing the spec may leave to defaults.
    const job = readText(join(templatesDir, 'jobs', 'verify-connection.yml'));
    assert.doesNotMatch(job, /parameters\.connection\.(subscriptionId|resourceGroup)/);
    const session = newSession();
    const connection = await connectionInNewJob();
    await session.signInAsAzureCli2(connection, SUBSCRIPTION);
    const result = await session.smokeTest(connection, ['--roles', JSON.stringify(ROLES), '--connection', 'app-dev', '--environments-output', provision.outputs.environments!, '--environment', 'dev']);
    assert.equal(result.status, 0, result.output);
    assert.match(result.stdout, new RegExp(`ok: subscription ${SUBSCRIPTION}\n`));
    assert.match(result.stdout, /ok: resource group rg-app-dev is readable/);
  });

  it('fails naming an issuer mismatch once the organization moved the connection to the other issuer', async () => {
    // Azure DevOps' own migration: the connection now has the legacy issuer and subject, the credential the
    // task wrote still trusts the old pair. A job started afterwards gets a token from the new issuer.
    await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps', moveConnections: [connectionId] });
    try {
      const result = await smokeTest(newSession(), await connectionInNewJob());
      assertFailedWith(result, /error: Issuer mismatch: no federated credential on the identity \(client id [0-9a-f-]{36}\) trusts the issuer of the connection's token \(issuer 'https:\/\/vstoken\.dev\.azure\.com\/06b4c157-759b-4b4c-bb2a-303135a18867', subject 'sc:\/\/contoso\/Platform\/app-dev'\)/);
      assert.match(result.stderr, /run the pipeline with mode provision to rewrite it from the connection/);
    } finally {
      await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'EntraID', moveConnections: [connectionId] });
    }
  });

  it('fails naming the missing role when a declared role assignment was removed out of band', async () => {
    // The spec, and so the smoke job's expectations, still declare Contributor; someone deleted the
    // assignment after the task made it. (Declaring a role in the expectations that the spec lacks would
    // test a pipeline that cannot exist: the template passes the spec's own roles to both.)
    const { principalId } = environments.dev.identity;
    const listed = await armAsBootstrap(emulator, 'GET', `${TARGET_SCOPE}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent(`principalId eq '${principalId}'`)}`);
    const assignments = ((await listed.json()) as { value: { id: string; properties: { roleDefinitionId: string; scope: string } }[] }).value;
    const contributor = assignments.find((assignment) => assignment.properties.scope === TARGET_SCOPE && assignment.properties.roleDefinitionId.endsWith('/b24988ac-6180-42a0-ab88-20f7382dd24c'));
    assert.ok(contributor, `the task assigned Contributor at ${TARGET_SCOPE}: ${JSON.stringify(assignments)}`);
    const removed = await armAsBootstrap(emulator, 'DELETE', `${contributor.id}?api-version=2022-04-01`);
    assert.equal(removed.status, 200, await removed.text());

    const session = newSession();
    const connection = await connectionInNewJob();
    await session.signInAsAzureCli2(connection, SUBSCRIPTION);
    const result = await smokeTest(session, connection);
    assertFailedWith(result, new RegExp(`error: Missing role: Contributor at ${TARGET_SCOPE.replace(/\//g, '\\/')} is declared but not assigned to the identity \\(object id ${principalId}\\)`));
    assert.match(result.stdout, /ok: role Reader at/, 'the role still assigned is reported as present');
  });

  it('fails naming a subject mismatch when the federated credential was rewritten to another subject', async () => {
    // Rewritten in place (same name, another subject), e.g. by hand or by another tool. Propagation is the
    // task's concern and is covered above; here the rewrite takes effect at once so the mismatch is certain.
    await control(emulator, 'POST', 'delays', { ficPropagationMs: 0 });
    const identity = environments.dev.identity.resourceId;
    const listed = await armAsBootstrap(emulator, 'GET', `${identity}/federatedIdentityCredentials?api-version=2024-11-30`);
    const credentials = ((await listed.json()) as { value: { name: string; properties: { issuer: string; subject: string; audiences: string[] } }[] }).value;
    const credential = credentials.find((candidate) => candidate.properties.subject.endsWith(`/${connectionId}`));
    assert.ok(credential, `the task wrote a credential for connection ${connectionId}: ${JSON.stringify(credentials)}`);
    const rewritten = await armAsBootstrap(emulator, 'PUT', `${identity}/federatedIdentityCredentials/${credential.name}?api-version=2024-11-30`, {
      properties: { ...credential.properties, subject: credential.properties.subject.replace(connectionId, '00000000-0000-4000-8000-000000000000') },
    });
    assert.equal(rewritten.status, 200, await rewritten.text());

    const result = await smokeTest(newSession(), await connectionInNewJob());
    assertFailedWith(result, /error: Subject mismatch: no federated credential on the identity \(client id [0-9a-f-]{36}\) has the subject of the connection's token \(issuer 'https:\/\/login\.microsoftonline\.com\/[^']+', subject '[^']+'\)\. The subject embeds the connection's id/);
  });
});
