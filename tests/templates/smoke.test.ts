// Protects the promise of templates/scripts/smoke-test.sh, the check every verification run makes with
// every new connection: run by the real Azure CLI (Debian's azure-cli 2.45, as CI installs it) against the
// emulator, it passes for a correct connection, whether AzureCLI@2 signed in first or it signs in itself, and
// it fails with a message naming the usual cause for a wrong credential, a wrong identity, an issuer or
// subject mismatch, a credential still propagating past the retry window, a missing role and no role at all.
// It also proves the emulator's Graph module answers the calls `az role assignment list` makes.
//
// Skipped only when `az` is not installed (CI installs it).
import assert from 'node:assert/strict';
import { BOOTSTRAP_IDENTITY, DEFAULT_TENANT, DEV_SUBSCRIPTION, IDENTITY_RESOURCE_GROUP, defaultAzureSeed } from '../emulator/azure/default-world';
import { identityResourceId } from '../emulator/azure/ids';
import type { AzureSeed } from '../emulator/azure/seed';
import { defaultDevOpsSeed, type DevOpsSeed } from '../emulator/devops/seed';
import type { RunningEmulator } from '../emulator/emulator';
import { control, startTestEmulator } from '../helpers/emulator';
import { accessToken, azAvailable, AzSession, devOpsConnectionToken, requestsSince, testIssuerToken, type FederatedConnection, type ProcessResult } from './az-harness';

const TENANT = DEFAULT_TENANT.id;
const SUBSCRIPTION = DEV_SUBSCRIPTION.id;
const TARGET_GROUP = 'rg-app-dev';
const TARGET_SCOPE = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${TARGET_GROUP}`;
const SUBJECT = '/eid1/c/pub/t/smoke/a/test/sc/06b4c157-759b-4b4c-bb2a-303135a18867/7f0c2b1e-0000-4000-8000-0000000000a1';

const APP = { name: 'id-ado-dev', clientId: '33333333-0000-4000-8000-0000000000a1', principalId: '44444444-0000-4000-8000-0000000000a1' };
const OTHER = { name: 'id-ado-other', clientId: '33333333-0000-4000-8000-0000000000b1', principalId: '44444444-0000-4000-8000-0000000000b1' };
const DECLARED_ROLES = JSON.stringify([
  { role: 'Contributor', scope: TARGET_SCOPE },
  // In another subscription: not this connection's to check.
  { role: 'Reader', scope: '/subscriptions/22222222-0000-4000-8000-000000000002' },
]);

/** The service connection the emulator's Azure DevOps holds for APP, when a test asks for it. */
const APP_CONNECTION_ID = '7f0c2b1e-0000-4000-8000-0000000000a1';

interface WorldOptions {
  /**
   * Azure DevOps holds the connection `app-dev` for APP (authorized for the bootstrap pipeline) and wrote its
   * federated credential with the connection's own issuer and subject, as the task does. APP then has no
   * test-issuer credential.
   */
  devops?: boolean;
  /** The app identity's federated credential: trusts the test issuer with SUBJECT unless changed. */
  credential?: { issuer?: string; subject?: string } | 'none';
  /** Role assignments of the app identity on rg-app-dev. */
  roles?: string[];
  /** A second identity that trusts the same token (for the wrong-identity case). */
  other?: boolean;
  graphDirectoryReaders?: string[];
}

function world(options: WorldOptions = {}): { azure: AzureSeed; devops?: DevOpsSeed; graph?: { directoryReaders: string[] } } {
  const azure = defaultAzureSeed();
  const identity = (who: typeof APP, credential: WorldOptions['credential']) => ({
    subscriptionId: SUBSCRIPTION,
    resourceGroup: IDENTITY_RESOURCE_GROUP,
    name: who.name,
    location: 'westeurope',
    clientId: who.clientId,
    principalId: who.principalId,
    federatedIdentityCredentials: credential === 'none' ? [] : [{ name: 'azdo-app-dev', issuer: credential?.issuer ?? '{{testIssuer}}', subject: credential?.subject ?? SUBJECT }],
  });
  azure.identities = [...(azure.identities ?? []), identity(APP, options.devops ? 'none' : options.credential)];
  if (options.other) {
    azure.identities.push(identity(OTHER, undefined));
    // Reader lets the other identity sign in to the subscription, so the identity check is what fails.
    azure.roleAssignments = [...(azure.roleAssignments ?? []), { name: '55555555-0000-4000-8000-0000000000b1', scope: TARGET_SCOPE, roleName: 'Reader', principalId: OTHER.principalId, principalType: 'ServicePrincipal' }];
  }
  azure.roleAssignments = [
    ...(azure.roleAssignments ?? []),
    ...(options.roles ?? ['Contributor']).map((roleName, index) => ({
      name: `55555555-0000-4000-8000-0000000000${(0xa1 + index).toString(16)}`,
      scope: TARGET_SCOPE,
      roleName,
      principalId: APP.principalId,
      principalType: 'ServicePrincipal',
    })),
  ];
  let devops: DevOpsSeed | undefined;
  if (options.devops) {
    devops = defaultDevOpsSeed();
    devops.serviceConnections.push({
      id: APP_CONNECTION_ID,
      project: 'Platform',
      createdBy: 'buildService',
      name: 'app-dev',
      type: 'AzureRM',
      url: 'https://management.azure.com/',
      description: 'Deploys the app to development.',
      authorization: { scheme: 'WorkloadIdentityFederation', parameters: {} },
      data: { environment: 'AzureCloud', scopeLevel: 'Subscription', creationMode: 'Manual' },
      identityResourceId: identityResourceId(SUBSCRIPTION, IDENTITY_RESOURCE_GROUP, APP.name),
      federatedCredentialName: 'azdo-app-dev',
      authorizedPipelines: [1],
    });
  }
  return { azure, ...(devops ? { devops } : {}), ...(options.graphDirectoryReaders ? { graph: { directoryReaders: options.graphDirectoryReaders } } : {}) };
}

const expectations = ['--subscription-id', SUBSCRIPTION, '--client-id', APP.clientId, '--tenant-id', TENANT, '--resource-group', TARGET_GROUP, '--roles', DECLARED_ROLES, '--connection', 'app-dev'];

function assertPassed(result: ProcessResult): void {
  assert.equal(result.status, 0, result.output);
  assert.match(result.stdout, /Smoke test of connection 'app-dev' \(identity client id 33333333-0000-4000-8000-0000000000a1\) passed\./);
}

function assertFailedWith(result: ProcessResult, message: RegExp): void {
  assert.equal(result.status, 1, result.output);
  assert.match(result.stderr, message, result.output);
  assert.match(result.stderr, /Smoke test of connection 'app-dev' .* failed/);
}

describe('smoke test scripts with the real Azure CLI against the emulator', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator | undefined;
  let session: AzSession | undefined;

  before(function () {
    if (!azAvailable()) {
      console.log('      (skipped: the Azure CLI `az` is not installed; CI installs Debian\'s azure-cli: apt-get install -y --no-install-recommends azure-cli)');
      this.skip();
    }
  });

  afterEach(async () => {
    session?.dispose();
    session = undefined;
    await emulator?.close();
    emulator = undefined;
  });

  async function start(options: WorldOptions = {}): Promise<{ emulator: RunningEmulator; session: AzSession; connection: FederatedConnection }> {
    emulator = await startTestEmulator({ seed: world(options) });
    session = new AzSession(emulator);
    const idToken = options.devops ? await devOpsConnectionToken(emulator, APP_CONNECTION_ID) : await testIssuerToken(emulator, SUBJECT);
    const connection = { clientId: APP.clientId, tenantId: TENANT, idToken };
    return { emulator, session, connection };
  }

  it('passes for a connection Azure DevOps issued the token for, after AzureCLI@2 signed in; makes the Graph calls az role assignment list makes', async () => {
    const { emulator, session, connection } = await start({ devops: true });
    await session.signInAsAzureCli2(connection, SUBSCRIPTION);
    const from = emulator.ctx.requests.log.length;
    const result = await session.smokeTest(connection, expectations);
    assertPassed(result);
    assert.match(result.stdout, /ok: signed in as the identity \(client id 33333333-0000-4000-8000-0000000000a1\)/);
    assert.match(result.stdout, /ok: tenant 11111111-0000-4000-8000-000000000000/);
    assert.match(result.stdout, /ok: resource group rg-app-dev is readable/);
    assert.match(result.stdout, /ok: role Contributor at \/subscriptions\/.*\/resourceGroups\/rg-app-dev/);
    assert.match(result.stdout, /not checked here: role Reader at \/subscriptions\/22222222-0000-4000-8000-000000000002/);
    assert.match(result.stdout, /issuer 'https:\/\/login\.microsoftonline\.com\/11111111-0000-4000-8000-000000000000\/v2\.0', subject '\/eid1\/c\/pub\/t\/[^']*\/sc\/06b4c157-759b-4b4c-bb2a-303135a18867\/7f0c2b1e-0000-4000-8000-0000000000a1'/, 'prints the token\'s issuer and subject');
    assert.doesNotMatch(result.output, new RegExp(connection.idToken.slice(-20)), 'never prints the token');
    const calls = requestsSince(emulator, from);
    // A managed identity may not read the directory: Graph refuses, and the CLI falls back to the object id.
    assert.ok(calls.includes('graph graph.service-principals.list 403'), calls.join('\n'));
    assert.ok(calls.includes('arm arm.roleassignments.list 200'), calls.join('\n'));
  });

  it('passes when it signs in itself, and Graph answers a caller allowed to read the directory', async () => {
    const { emulator, session, connection } = await start({ graphDirectoryReaders: [APP.principalId] });
    const from = emulator.ctx.requests.log.length;
    const result = await session.smokeTest(connection, expectations);
    assertPassed(result);
    assert.match(result.stdout, /ok: signed in with the connection's federated token/);
    const calls = requestsSince(emulator, from);
    assert.ok(calls.includes('graph graph.service-principals.list 200'), calls.join('\n'));
    assert.ok(calls.includes('graph graph.directory-objects.get-by-ids 200'), calls.join('\n'));
  });

  it('takes the client id and tenant from the task\'s environments output', async () => {
    const { session, connection } = await start();
    const output = JSON.stringify({ dev: { identity: { name: APP.name, clientId: APP.clientId, principalId: APP.principalId, tenantId: TENANT }, connections: { 'app-dev': { id: 'x' } } } });
    const result = await session.smokeTest(connection, ['--subscription-id', SUBSCRIPTION, '--connection', 'app-dev'], { MIC_ENVIRONMENTS_OUTPUT: output, MIC_ENVIRONMENT: 'dev' });
    assertPassed(result);
    assert.match(result.stdout, /ok: tenant 11111111-0000-4000-8000-000000000000/);
  });

  it('retries while a new federated credential propagates, then passes', async () => {
    const { emulator, session, connection } = await start({ credential: 'none' });
    // Written as the task writes it (the bootstrap identity over ARM), so it propagates like a real write.
    // Propagation lasts until the test ends it: after the script's first refused sign-in, whatever the machine's speed.
    await control(emulator, 'POST', 'delays', { ficPropagationMs: 3_600_000 });
    const bootstrap = { clientId: BOOTSTRAP_IDENTITY.clientId, tenantId: TENANT, idToken: await testIssuerToken(emulator, BOOTSTRAP_IDENTITY.testIssuerSubject) };
    const token = await accessToken(emulator, bootstrap);
    const path = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${IDENTITY_RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${APP.name}/federatedIdentityCredentials/azdo-app-dev?api-version=2024-11-30`;
    const put = await fetch(emulator.ctx.urls.origin + path, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { issuer: emulator.info.testIssuer, subject: SUBJECT, audiences: ['api://AzureADTokenExchange'] } }),
    });
    assert.ok(put.status === 200 || put.status === 201, await put.text());

    const from = emulator.ctx.requests.log.length;
    const running = session.smokeTest(connection, [...expectations, '--sign-in-timeout', '120', '--sign-in-interval', '1']);
    const refused = () => emulator.ctx.requests.log.slice(from).some((entry) => entry.route === 'entra.token' && entry.status === 400);
    for (const deadline = Date.now() + 90_000; !refused() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(refused(), 'the first sign-in was refused while the credential propagated');
    await control(emulator, 'POST', 'delays', { ficPropagationMs: 0 });
    const result = await running;
    assertPassed(result);
    // The identity's only credential is invisible while it propagates: Entra answers AADSTS70025 (or 70021).
    assert.match(result.stdout, /AADSTS700(21|25): the federated credential may still be propagating; retrying in 1s\./);
  });

  it('fails naming propagation when the credential is still not there after the retry window', async () => {
    const { session, connection } = await start({ credential: 'none', other: false });
    // No credential at all trusts the token, and there is no time to wait.
    const result = await session.smokeTest(connection, expectations);
    assertFailedWith(result, /error: (No federated credential on the identity|The identity \(client id .*\) has no federated credentials)/);
    assert.match(result.stderr, /run the pipeline with mode provision/);
  });

  it('fails naming a wrong credential when the connection\'s client id is no identity in the tenant', async () => {
    const { session, connection } = await start();
    const result = await session.smokeTest({ ...connection, clientId: '33333333-0000-4000-8000-0000000000ff' }, expectations);
    assertFailedWith(result, /error: Wrong credential: tenant 11111111-0000-4000-8000-000000000000 has no identity with client id 33333333-0000-4000-8000-0000000000ff\. The connection's Service Principal Id is not the managed identity's client id/);
  });

  it('fails naming a wrong identity when the connection signs in as another identity', async () => {
    const { session, connection } = await start({ other: true, roles: ['Contributor'] });
    const other = { ...connection, clientId: OTHER.clientId };
    const result = await session.smokeTest(other, expectations);
    assertFailedWith(result, /error: Wrong identity: signed in as client id 33333333-0000-4000-8000-0000000000b1, but the environment's identity has client id 33333333-0000-4000-8000-0000000000a1\. The connection's Service Principal Id points at another identity/);
  });

  it('fails naming an issuer mismatch when Azure DevOps moved the connection to the other issuer', async () => {
    const { emulator, session } = await start({ devops: true });
    // Azure DevOps' own migration: the connection gets the legacy issuer and subject; the credential still trusts the old pair.
    await control(emulator, 'POST', 'devops/organization/issuer', { issuerType: 'AzureDevOps', moveConnections: [APP_CONNECTION_ID] });
    const moved = { clientId: APP.clientId, tenantId: TENANT, idToken: await devOpsConnectionToken(emulator, APP_CONNECTION_ID) };
    const result = await session.smokeTest(moved, expectations);
    assertFailedWith(result, /error: Issuer mismatch: no federated credential on the identity \(client id 33333333-0000-4000-8000-0000000000a1\) trusts the issuer of the connection's token \(issuer 'https:\/\/vstoken\.dev\.azure\.com\/06b4c157-759b-4b4c-bb2a-303135a18867', subject 'sc:\/\/contoso\/Platform\/app-dev'\)/);
    assert.match(result.stderr, /run the pipeline with mode provision to rewrite it from the connection/);
  });

  it('fails naming a subject mismatch', async () => {
    const { session, connection } = await start({ credential: { subject: `${SUBJECT}-old` } });
    const result = await session.smokeTest(connection, expectations);
    assertFailedWith(result, /error: Subject mismatch: .*The subject embeds the connection's id/);
  });

  it('fails naming a missing role when a declared role is not assigned', async () => {
    // Reader lets it sign in, see the subscription, read the group and list its assignments; Contributor is missing.
    const { session, connection } = await start({ roles: ['Reader'] });
    await session.signInAsAzureCli2(connection, SUBSCRIPTION);
    const result = await session.smokeTest(connection, expectations);
    assertFailedWith(result, /error: Missing role: Contributor at \/subscriptions\/22222222-0000-4000-8000-000000000001\/resourceGroups\/rg-app-dev is declared but not assigned to the identity \(object id 44444444-0000-4000-8000-0000000000a1\)/);
    assert.match(result.stdout, /ok: resource group rg-app-dev is readable/);
  });

  it('fails naming a missing role when the identity holds no role in the subscription', async () => {
    const { session, connection } = await start({ roles: [] });
    const result = await session.smokeTest(connection, expectations);
    assertFailedWith(result, /error: The identity sees no subscription 22222222-0000-4000-8000-000000000001: it holds no role in it/);
  });

  it('refuses bad usage with status 2 and names the option', async () => {
    const { session } = await start();
    const result = await session.smokeTest(undefined, ['--subscription-id', 'not-a-guid', '--client-id', APP.clientId]);
    assert.equal(result.status, 2, result.output);
    assert.match(result.stderr, /--subscription-id must be a GUID, got 'not-a-guid'/);
  });
});
