// Protects the task's single retry policy against the services' transient failures, as the real SDK clients
// meet them over HTTPS: throttling honours Retry-After; 5xx answers and dropped connections are retried without
// duplicating anything; PrincipalNotFound right after an identity is created, Entra's AADSTS70021 while a new
// credential propagates, and ARM's 409 on concurrent federated-credential writes are waited out — and the task
// never causes that 409 itself. Each fault fires a bounded number of times (`times`), so every test ends with
// the world fully provisioned, and the request log shows the retry happened.
import assert from 'node:assert/strict';
import {
  connectionNamed,
  credentialsOf,
  devEnvironment,
  e2eWorld,
  identityNamed,
  requestsTo,
  specText,
  statusesOf,
  transcript,
  verifiedInLog,
  type MicRun,
} from './harness';

const spec = specText([devEnvironment]);

describe('e2e: transient faults are retried', () => {
  const world = e2eWorld();

  async function faults(...rules: object[]): Promise<void> {
    await world.control('POST', 'faults', { rules });
  }

  /** The run provisioned everything despite the fault: identity, credential, both roles, the connection. */
  function assertProvisioned(run: MicRun): void {
    assert.equal(run.result, 'Succeeded', transcript(run));
    const state = world.state();
    const identity = identityNamed(state, 'id-ado-dev');
    assert.ok(identity && connectionNamed(state, 'app-dev'), transcript(run));
    assert.equal(credentialsOf(state, identity).length, 1);
    assert.equal(state.roleAssignments.filter((assignment) => assignment.properties.principalId === identity.properties.principalId).length, 2);
  }

  it('429 with Retry-After: waits as long as the service asked, then succeeds', async function () {
    this.timeout(20_000);
    // GIVEN ARM throttles the identity write once, asking for 1.5 s (longer than the task's own first backoff, ≤ 1 s)
    await faults({ route: 'arm.identities.put', status: 429, retryAfterSeconds: 1.5, times: 1 });
    // WHEN provision runs  THEN it waits Retry-After, not its own backoff, and completes
    const run = await world.run({ environments: spec });
    assertProvisioned(run);
    const [throttled, retried] = requestsTo(run.requests, 'arm.identities.put');
    assert.deepEqual([throttled?.status, retried?.status], [429, 201]);
    const waitedMs = Date.parse(retried!.at) - Date.parse(throttled!.at);
    assert.ok(waitedMs >= 1450, `retried after ${waitedMs} ms`);
    assert.ok(run.log.some((line) => /create identity id-ado-dev: .*trying again in 1\.5 s/.test(line)), transcript(run));
  });

  it('5xx answers from ARM and from Azure DevOps are retried', async () => {
    // GIVEN ARM answers one role assignment write with 503 and Azure DevOps one permission write with 500
    await faults(
      { route: 'arm.roleassignments.put', status: 503, times: 1 },
      { route: 'devops.pipelinepermissions.update', status: 500, times: 1 },
    );
    const run = await world.run({ environments: spec });
    assertProvisioned(run);
    assert.equal(statusesOf(run.requests, 'arm.roleassignments.put').filter((status) => status === 503).length, 1);
    assert.equal(statusesOf(run.requests, 'arm.roleassignments.put').filter((status) => status === 201).length, 2);
    assert.deepEqual(statusesOf(run.requests, 'devops.pipelinepermissions.update'), [500, 200]);
  });

  it('dropped connections are retried, leaving exactly one connection and one credential', async () => {
    // GIVEN the connection create and the credential write each lose their connection once
    await faults({ route: 'devops.endpoints.create', drop: true, times: 1 }, { route: 'arm.fic.put', drop: true, times: 1 });
    const run = await world.run({ environments: spec });
    assertProvisioned(run);
    assert.deepEqual(statusesOf(run.requests, 'devops.endpoints.create'), [0, 200]);
    assert.deepEqual(statusesOf(run.requests, 'arm.fic.put'), [0, 201]);
    assert.equal(world.state().serviceEndpoints.filter((endpoint) => endpoint.name === 'app-dev').length, 1);
  });

  it('a slow principal replication does not stop the role assignments: principalType is sent, so ARM needs no lookup', async () => {
    // GIVEN a new principal stays unknown to lookups for 300 ms
    await world.control('POST', 'delays', { principalReplicationMs: 300 });
    const run = await world.run({ environments: spec });
    assertProvisioned(run);
    assert.deepEqual(statusesOf(run.requests, 'arm.roleassignments.put'), [201, 201]);
  });

  it('PrincipalNotFound on a role assignment is retried', async () => {
    // GIVEN ARM does not know the new principal yet for one role assignment write
    await faults({ route: 'arm.roleassignments.put', status: 400, code: 'PrincipalNotFound', message: 'Principal 0000 does not exist in the directory.', times: 1 });
    const run = await world.run({ environments: spec });
    assertProvisioned(run);
    const statuses = statusesOf(run.requests, 'arm.roleassignments.put');
    assert.deepEqual([statuses.filter((status) => status === 400).length, statuses.filter((status) => status === 201).length], [1, 2]);
    assert.ok(run.log.some((line) => /PrincipalNotFound.*trying again/.test(line)), transcript(run));
  });

  it('TestConnection is retried while the new credential propagates (AADSTS70025 / 70021), until it signs in', async () => {
    // GIVEN Entra ignores a new credential for 400 ms
    await world.control('POST', 'delays', { ficPropagationMs: 400 });
    const run = await world.run({ environments: spec });
    assertProvisioned(run);
    assert.ok(requestsTo(run.requests, 'devops.endpointproxy').length >= 2, 'TestConnection ran more than once');
    // The identity's only credential is invisible while it propagates: Entra says it has none (AADSTS70025).
    assert.ok(run.log.some((line) => /verify service connection app-dev: AADSTS700(21|25): .*trying again/.test(line)), transcript(run));
    assert.ok(verifiedInLog(run, 'dev', 'app-dev'), transcript(run));
  });

  it('409 ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity is retried', async function () {
    this.timeout(20_000);
    // GIVEN another writer holds the identity's credentials for two attempts
    await faults({ route: 'arm.fic.put', status: 409, code: 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity', times: 2 });
    const run = await world.run({ environments: spec });
    assertProvisioned(run);
    assert.deepEqual(statusesOf(run.requests, 'arm.fic.put'), [409, 409, 201]);
  });

  it('credential writes on one identity never overlap, so ARM never answers 409 to the task itself', async () => {
    // GIVEN one identity backing three connections, and credential writes that take 150 ms each
    await world.control('POST', 'settings', { azure: { ficWriteMs: 150 } });
    const three = specText([{ name: 'dev', connections: [{ name: 'app-dev-1' }, { name: 'app-dev-2' }, { name: 'app-dev-3' }], roles: devEnvironment.roles }]);
    const run = await world.run({ environments: three });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(statusesOf(run.requests, 'arm.fic.put'), [201, 201, 201]);
    assert.equal(credentialsOf(world.state(), identityNamed(world.state(), 'id-ado-dev')!).length, 3);
  });
});
