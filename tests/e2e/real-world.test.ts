// Protects the task against what real Entra ID, ARM and Azure DevOps do and the emulator used to spare it
// (docs/emulator.md, "Where real Azure is less kind"): each behaviour is switched on in the emulator, the
// bundled task runs against it, converges, and a rerun writes nothing. Each of these failed before the task
// learned the behaviour (the comment on each test says how).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  ARM_API,
  assignmentsOf,
  connectionNamed,
  credentialsOf,
  devEnvironment,
  DEV,
  e2eWorld,
  identityNamed,
  requestsTo,
  roleGuid,
  specText,
  statusesOf,
  transcript,
  verifiedInLog,
  writeCounts,
  type MicRun,
} from './harness';

const spec = specText([devEnvironment]);

describe('e2e: the task survives what real Azure does', () => {
  const world = e2eWorld();

  async function faults(...rules: object[]): Promise<void> {
    await world.control('POST', 'faults', { rules });
  }

  /** One identity, one credential, two roles, one connection: the spec's dev environment exactly once. */
  function assertConverged(run: MicRun): void {
    assert.ok(run.result === 'Succeeded' || run.result === 'SucceededWithIssues', transcript(run));
    const state = world.state();
    const identity = identityNamed(state, 'id-ado-dev')!;
    const connection = connectionNamed(state, 'app-dev')!;
    assert.ok(identity && connection, transcript(run));
    assert.equal(state.serviceEndpoints.filter((endpoint) => endpoint.name === 'app-dev').length, 1, 'one connection');
    const credentials = credentialsOf(state, identity);
    assert.equal(credentials.length, 1, 'one credential');
    assert.equal(credentials[0]!.properties.issuer, connection.authorization.parameters.workloadIdentityFederationIssuer);
    assert.equal(credentials[0]!.properties.subject, connection.authorization.parameters.workloadIdentityFederationSubject);
    assert.equal(assignmentsOf(state, identity.properties.principalId).length, 2, 'two role assignments');
    assert.ok(!/TypeError/.test(`${run.stdout}${run.stderr}`), 'no raw TypeError reaches the log');
  }

  async function assertRerunWritesNothing(): Promise<void> {
    await world.control('DELETE', 'faults');
    const rerun = await world.run({ environments: spec });
    assert.equal(rerun.result, 'Succeeded', transcript(rerun));
    assert.deepEqual(writeCounts(rerun), {}, transcript(rerun));
  }

  it('ParentResourceNotFound on the credential write right after creating the identity is retried (before: MIC604)', async function () {
    this.timeout(30_000);
    await world.control('POST', 'settings', { azure: { identityVisibilityMs: 1500 } });
    const run = await world.run({ environments: spec });
    assertConverged(run);
    const statuses = statusesOf(run.requests, 'arm.fic.put');
    assert.equal(statuses[0], 404, 'the first write met the invisible identity');
    assert.equal(statuses.at(-1), 201);
    assert.ok(run.log.some((line) => /write federated credential .*ParentResourceNotFound.*trying again/.test(line)), transcript(run));
    await assertRerunWritesNothing();
  });

  it('a transient AADSTS700213 on the credential this run wrote is waited out (before: MIC505)', async function () {
    this.timeout(30_000);
    await faults({ route: 'entra.token', status: 401, code: 'AADSTS700213', message: "No matching federated identity record found for presented assertion subject 'x'.", internal: true, times: 1 });
    const run = await world.run({ environments: spec });
    assertConverged(run);
    assert.ok(run.log.some((line) => /verify service connection app-dev: AADSTS700213: .*trying again/.test(line)), transcript(run));
    assert.ok(verifiedInLog(run, 'dev', 'app-dev'), transcript(run));
    await assertRerunWritesNothing();
  });

  it('"no matching record" for a credential this run did not write is drift, reported at once (before: waited out the timeout, MIC503)', async function () {
    this.timeout(60_000);
    assertConverged(await world.run({ environments: spec }));
    // GIVEN Entra answers every sign-in with the generic 70021, as for an issuer/subject nobody just wrote
    await faults({ route: 'entra.token', status: 400, code: 'AADSTS70021', message: "No matching federated identity record found for presented assertion. Assertion Issuer: 'x'. Assertion Subject: 'y'.", internal: true });
    const run = await world.run({ command: 'verify', environments: spec, propagationTimeoutSeconds: '40' });
    assert.equal(run.result, 'Failed', transcript(run));
    const drift = run.problems.find((problem) => problem.code === 'MIC502' && problem.text.includes('AADSTS70021'));
    assert.ok(drift, transcript(run));
    assert.equal(requestsTo(run.requests, 'devops.endpointproxy').length, 1, 'tested once, not retried');
    assert.ok(run.durationMs < 15_000, `took ${Math.round(run.durationMs)} ms`);
  });

  it('a save that moves the connection to the Entra issuer: the credential follows the pair the update answered (before: MIC504, then a third run)', async function () {
    this.timeout(40_000);
    // GIVEN a connection on the legacy issuer, and an organization that moves connections to Entra on save
    await world.control('POST', 'devops/organization/issuer', { issuerType: 'DevOps' });
    await world.control('POST', 'settings', { devops: { honourRequestedIssuerType: false } });
    const first = await world.run({ environments: spec });
    assert.ok(first.result === 'Succeeded' || first.result === 'SucceededWithIssues', transcript(first));
    assert.match(connectionNamed(world.state(), 'app-dev')!.authorization.parameters.workloadIdentityFederationIssuer!, /vstoken/);
    await world.control('POST', 'settings', { devops: { updateMovesToEntraIssuer: true } });
    // WHEN the spec changes the description (an update)
    const edited = specText([{ ...devEnvironment, connections: [{ ...devEnvironment.connections[0], description: 'edited' }] }]);
    const run = await world.run({ environments: edited });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(writeCounts(run), { 'devops.endpoints.update': 1, 'arm.fic.put': 1 });
    const connection = connectionNamed(world.state(), 'app-dev')!;
    assert.equal(connection.authorization.parameters.workloadIdentityFederationIssuerType, 'EntraID');
    const credentials = credentialsOf(world.state(), identityNamed(world.state(), 'id-ado-dev')!);
    assert.deepEqual(credentials.map((credential) => credential.properties.issuer), [connection.authorization.parameters.workloadIdentityFederationIssuer]);
    assert.ok(verifiedInLog(run, 'dev', 'app-dev'), transcript(run));
    const rerun = await world.run({ environments: edited });
    assert.equal(rerun.result, 'Succeeded', transcript(rerun));
    assert.deepEqual(writeCounts(rerun), {});
  });

  it('409 RoleAssignmentExists for the same role, principal and scope under another name is converged (before: MIC306)', async function () {
    this.timeout(30_000);
    // GIVEN the role writes are slow, and someone assigns the same roles under other names meanwhile
    await faults({ route: 'arm.roleassignments.put', latencyMs: 1500, times: 2 });
    const running = world.run({ environments: spec });
    let identity = identityNamed(world.state(), 'id-ado-dev');
    for (let waited = 0; !identity && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      identity = identityNamed(world.state(), 'id-ado-dev');
    }
    assert.ok(identity, 'the task created the identity');
    const names: string[] = [];
    for (const role of devEnvironment.roles) {
      const name = randomUUID();
      names.push(name);
      const created = await world.armAsSystem('PUT', `${role.scope}/providers/Microsoft.Authorization/roleAssignments/${name}?${ARM_API}`, {
        properties: { roleDefinitionId: `/subscriptions/${DEV}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid(role.role)}`, principalId: identity.properties.principalId, principalType: 'ServicePrincipal' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const run = await running;
    assertConverged(run);
    assert.deepEqual(statusesOf(run.requests, 'arm.roleassignments.put'), [409, 409]);
    for (const name of names) assert.ok(run.log.some((line) => line.includes(`already assigned as ${name}`)), transcript(run));
    await assertRerunWritesNothing();
  });

  it('two runs at once: "Service connection with name … already exists" is adopted when it is the same identity (before: one run failed)', async function () {
    this.timeout(60_000);
    // Overlapping pipeline-permission writes also meet TF400898 (500), which is retried.
    await world.control('POST', 'settings', { devops: { pipelinePermissionsWriteMs: 150 } });
    const authorized = specText([{ ...devEnvironment, connections: [{ ...devEnvironment.connections[0], authorize: 'all' }] }]);
    for (let trial = 0; trial < 3; trial += 1) {
      await world.reset();
      await world.control('POST', 'settings', { devops: { pipelinePermissionsWriteMs: 150 } });
      // The second run is another job of the same pipeline: each job has its own agent folders and token.
      const other = await world.control<{ agentEnv: Record<string, string> }>('POST', 'devops/jobs', { connections: ['bootstrap'] });
      const [one, two] = await Promise.all([world.run({ environments: authorized }), world.run({ environments: authorized }, { agentEnv: other.agentEnv })]);
      for (const run of [one, two]) assertConverged(run);
      const rerun = await world.run({ environments: authorized });
      assert.deepEqual(writeCounts(rerun), {}, transcript(rerun));
    }
  });

  it('a connection reset mid-answer after the server committed: PUTs retried, the create looks before posting again, nothing doubled, no TypeError', async function () {
    this.timeout(60_000);
    await faults(
      { route: 'arm.identities.put', dropAfterCommit: true, times: 1 },
      { route: 'devops.endpoints.create', dropAfterCommit: true, times: 1 },
      { route: 'arm.fic.put', dropAfterCommit: true, times: 1 },
      { route: 'arm.roleassignments.put', dropAfterCommit: true, times: 1 },
      { route: 'devops.endpoints.share', dropAfterCommit: true, times: 1 },
    );
    const run = await world.run({ environments: spec });
    assertConverged(run);
    assert.equal(requestsTo(run.requests, 'devops.endpoints.create').length, 1, 'the create was looked up, not posted again');
    assert.ok(statusesOf(run.requests, 'arm.fic.put').length >= 2, 'the credential PUT was retried');
    assert.equal(connectionNamed(world.state(), 'app-dev')!.serviceEndpointProjectReferences.length, 2, 'shared once with Apps');
    await assertRerunWritesNothing();
  });

  it('TestConnection sends only what the server stores: a service believing client details still verifies (before: a partial body failed)', async () => {
    await world.control('POST', 'settings', { devops: { testConnectionUsesClientDetails: true } });
    const run = await world.run({ environments: spec });
    assertConverged(run);
    assert.ok(verifiedInLog(run, 'dev', 'app-dev'), transcript(run));
  });

  it('a connection the task sees only as a Reader stub → MIC422 naming the missing Administrator role, nothing written (before: MIC401 "is of type ,")', async () => {
    assertConverged(await world.run({ environments: spec }));
    // GIVEN the build service keeps only the Reader role it has as a project member
    await world.control('POST', 'devops/roles', { identity: 'buildService', serviceEndpoint: 'app-dev', role: null });
    await world.control('POST', 'devops/roles', { identity: 'buildService', project: 'Platform', role: null });
    const run = await world.run({ environments: spec });
    assert.equal(run.result, 'Failed', transcript(run));
    const problem = run.problems.find((candidate) => candidate.code === 'MIC422');
    assert.ok(problem, transcript(run));
    assert.match(problem.text, /app-dev.*Reader.*Administrator/);
    assert.equal(run.writes.length, 0);
  });

  it('the bootstrap sign-in takes an Entra-issued job token whose aud is the token-exchange app id', async () => {
    const run = await world.run({ command: 'plan', environments: spec });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const tokens = (await world.control<{ value: { kind: string; audience: string; issuer: string }[] }>('GET', 'tokens')).value;
    assert.ok(tokens.some((token) => token.kind === 'id-token' && token.audience === 'fb60f99c-7a34-4190-8149-302f77469936'), JSON.stringify(tokens.map((token) => [token.kind, token.audience])));
  });
});
