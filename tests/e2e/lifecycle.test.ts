// The lifecycle against the emulator with the real clients and the bundled task (docs/lifecycle.md): what
// the task creates carries its ownership marker; owned objects the spec no longer names are a warning in
// plan/provision (MIC530), drift in verify, and removed by provision with prune: true, in teardown order;
// teardown removes the named environments entirely and is finished by a rerun after a stop at any step;
// nothing without the marker is touched; maxDeletions refuses a large plan before any write.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  ARM_API,
  assignmentsOf,
  connectionNamed,
  credentialsOf,
  DEV,
  devEnvironment,
  e2eWorld,
  identityNamed,
  permissionsOf,
  requestsTo,
  roleGuid,
  specText,
  transcript,
  writeCounts,
  type MicRun,
  type WorldState,
} from './harness';

const testEnvironment = {
  name: 'test',
  connections: [{ name: 'app-test' }],
  roles: [{ role: 'Reader', scope: `/subscriptions/${DEV}/resourceGroups/rg-app-test` }],
};
const both = specText([devEnvironment, testEnvironment]);
const devOnly = specText([devEnvironment]);

/** What the world holds of one environment: identity, its credentials and assignments, its connection. */
function holdings(state: WorldState, identityName: string, connectionName: string) {
  const identity = identityNamed(state, identityName);
  return {
    identity,
    credentials: identity ? credentialsOf(state, identity) : [],
    assignments: identity ? assignmentsOf(state, identity.properties.principalId) : [],
    connection: connectionNamed(state, connectionName),
  };
}

function codes(run: MicRun): string[] {
  return run.warnings.flatMap((warning) => /^(MIC\d{3})/.exec(warning)?.[1] ?? []);
}

describe('e2e: ownership, prune and teardown', () => {
  const world = e2eWorld();

  it('marks everything it creates: identity tags, connection data, role assignment descriptions', async () => {
    const run = await world.run({ environments: devOnly });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const state = world.state();
    const identity = identityNamed(state, 'id-ado-dev')!;
    const projectId = world.info.project.id.toLowerCase();
    assert.deepEqual(
      { owner: identity.tags['managed-by'], project: identity.tags['managed-by-project'], environment: identity.tags['managed-by-environment'] },
      { owner: 'ManagedIdentityConnections', project: projectId, environment: 'dev' },
    );
    assert.equal(connectionNamed(state, 'app-dev')!.data.managedBy, `ManagedIdentityConnections/${projectId}/dev`);
    const described = state.roleAssignments.filter((assignment) => assignment.properties.principalId === identity.properties.principalId) as unknown as { properties: { description: string } }[];
    assert.equal(described.length, 2);
    for (const assignment of described) assert.equal(assignment.properties.description, `Managed by the ManagedIdentityConnections task for environment dev (project ${projectId}).`);
  });

  it('adopts an identity an earlier version made (no marker, our credential, our naming rule) on the next provision', async () => {
    const first = await world.run({ environments: devOnly });
    assert.equal(first.result, 'Succeeded', transcript(first));
    const identity = identityNamed(world.state(), 'id-ado-dev')!;
    // As an earlier version left it: no tags.
    const stripped = await world.armAsSystem('PATCH', `${identity.id}?api-version=2023-01-31`, { tags: {} });
    assert.equal(stripped.status, 200);
    assert.deepEqual(identityNamed(world.state(), 'id-ado-dev')!.tags, {});
    const run = await world.run({ environments: devOnly });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.deepEqual(writeCounts(run), { 'arm.identities.put': 1 });
    assert.ok(run.log.some((line) => /adopted/.test(line)), transcript(run));
    assert.equal(identityNamed(world.state(), 'id-ado-dev')!.tags['managed-by'], 'ManagedIdentityConnections');
  });

  describe('an environment removed from the spec', () => {
    beforeEach(async function () {
      this.timeout(20_000);
      const first = await world.run({ environments: both });
      assert.equal(first.result, 'Succeeded', transcript(first));
    });

    it('plan and provision without prune warn (MIC530) and write nothing; verify fails on it', async () => {
      const plan = await world.run({ command: 'plan', environments: devOnly });
      assert.equal(plan.result, 'SucceededWithIssues', transcript(plan));
      assert.ok(codes(plan).includes('MIC530'), transcript(plan));
      assert.equal(plan.outputs.permissionsNarrowed, 'false');
      const provision = await world.run({ environments: devOnly });
      assert.equal(provision.writes.length, 0, JSON.stringify(provision.writes));
      assert.ok(codes(provision).includes('MIC530'), transcript(provision));
      const verify = await world.run({ command: 'verify', environments: devOnly });
      assert.equal(verify.result, 'Failed', transcript(verify));
      assert.ok(verify.problems.some((problem) => problem.code === 'MIC530'), transcript(verify));
      assert.equal(verify.writes.length, 0);
      assert.ok(holdings(world.state(), 'id-ado-test', 'app-test').identity);
    });

    it('plan with prune shows the deletions (permissionsNarrowed) and writes nothing; provision with prune removes them in order, and only them', async () => {
      const plan = await world.run({ command: 'plan', environments: devOnly, prune: 'true' });
      assert.equal(plan.outputs.permissionsNarrowed, 'true', transcript(plan));
      assert.equal(plan.outputs.changesPresent, 'true');
      assert.equal(plan.writes.length, 0);
      assert.ok(plan.log.some((line) => /delete managed identity id-ado-test/.test(line)), transcript(plan));

      const before = holdings(world.state(), 'id-ado-dev', 'app-dev');
      const run = await world.run({ environments: devOnly, prune: 'true' });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.equal(run.resultMessage, 'Provisioned 1 environment and verified 1 connection; removed 1 environment no longer in the spec.');
      const gone = holdings(world.state(), 'id-ado-test', 'app-test');
      assert.equal(gone.identity, undefined);
      assert.equal(gone.connection, undefined);
      assert.equal(world.state().roleAssignments.some((assignment) => assignment.properties.scope.endsWith('/rg-app-test')), false);
      // The order of the writes: permissions, connection, credential, role, identity.
      const order = run.writes.map((entry) => entry.route).filter((route) => /delete|pipelinepermissions/.test(route));
      assert.deepEqual(order, ['devops.pipelinepermissions.update', 'devops.endpoints.delete', 'arm.fic.delete', 'arm.roleassignments.delete', 'arm.identities.delete']);
      // The summary has a row for the removed environment with what was deleted, and lists every deletion.
      const summary = run.summaries[0] ?? '';
      const row = summary.split('\n').find((line) => line.startsWith('| test |'));
      assert.ok(row, summary);
      for (const change of ['pipeline permissions revoked', 'connection app-test deleted', 'credential azdo-app-test deleted', 'Reader on', 'identity deleted']) assert.ok(row.includes(change), `${change} in ${row}`);
      assert.match(summary, /\*\*Deleted or narrowed by this plan\*\*/);
      // No outputs for an environment the spec does not declare.
      assert.equal(run.outputs['identityClientId_test'], undefined);
      // dev is untouched.
      const after = holdings(world.state(), 'id-ado-dev', 'app-dev');
      assert.deepEqual([after.identity?.id, after.connection?.id, after.credentials.length, after.assignments.length], [before.identity?.id, before.connection?.id, 1, 2]);
      // A rerun writes nothing and finds nothing.
      const again = await world.run({ environments: devOnly, prune: 'true' });
      assert.equal(again.writes.length, 0, JSON.stringify(again.writes));
      assert.equal(again.result, 'Succeeded', transcript(again));
    });

    it('keeps a connection a job used recently (execution history, MIC532) with what it signs in with, unless deleteUsedConnections', async () => {
      // A job of the bootstrap pipeline uses app-test and finishes: its execution history has a record now.
      const job = await world.control<{ runId: number }>('POST', 'devops/jobs', { connections: ['app-test'] });
      await world.control('POST', `devops/runs/${job.runId}/complete`, { result: 'succeeded' });
      const kept = await world.run({ environments: devOnly, prune: 'true' });
      assert.equal(kept.result, 'SucceededWithIssues', transcript(kept));
      assert.ok(codes(kept).includes('MIC532'), transcript(kept));
      assert.equal(kept.writes.length, 0, JSON.stringify(kept.writes));
      assert.ok(requestsTo(kept.requests, 'devops.endpoints.executionhistory').length > 0);
      const still = holdings(world.state(), 'id-ado-test', 'app-test');
      assert.ok(still.identity && still.connection && still.credentials.length === 1 && still.assignments.length === 1);

      const forced = await world.run({ environments: devOnly, prune: 'true', deleteUsedConnections: 'true' });
      assert.equal(forced.result, 'Succeeded', transcript(forced));
      assert.equal(holdings(world.state(), 'id-ado-test', 'app-test').identity, undefined);
    });

    it('keeps a connection whose execution history cannot be read (MIC532), and the run does not fail', async () => {
      await world.control('POST', 'faults', { rules: [{ route: 'devops.endpoints.executionhistory', status: 403 }] });
      const run = await world.run({ environments: devOnly, prune: 'true' });
      assert.equal(run.result, 'SucceededWithIssues', transcript(run));
      assert.ok(run.warnings.some((warning) => /MIC532/.test(warning) && /could not be read/.test(warning)), transcript(run));
      assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
      assert.ok(holdings(world.state(), 'id-ado-test', 'app-test').connection);
    });

    it('maxDeletions refuses a larger plan as a whole (MIC531) and writes nothing', async () => {
      const run = await world.run({ environments: devOnly, prune: 'true', maxDeletions: '2' });
      assert.equal(run.result, 'Failed', transcript(run));
      assert.ok(run.problems.some((problem) => problem.code === 'MIC531'), transcript(run));
      assert.equal(run.writes.length, 0);
    });
  });

  it('prune removes a role and pipeline permissions the spec no longer names, and leaves an assignment it did not make', async () => {
    // Pipeline 1 runs the task; pipeline 2 is another pipeline of the project.
    const wider = specText([{ ...devEnvironment, connections: [{ name: 'app-dev', shareWith: ['Apps'], authorize: [1, 2] }] }]);
    const first = await world.run({ environments: wider });
    assert.equal(first.result, 'Succeeded', transcript(first));
    const identity = identityNamed(world.state(), 'id-ado-dev')!;
    const connection = connectionNamed(world.state(), 'app-dev')!;
    // An operator's own Reader assignment on rg-app-test: no marker.
    const scope = `/subscriptions/${DEV}/resourceGroups/rg-app-test`;
    const extra = '55555555-0000-4000-8000-0000000000e1';
    await world.armAsSystem('PUT', `${scope}/providers/Microsoft.Authorization/roleAssignments/${extra}?${ARM_API}`, {
      properties: { roleDefinitionId: `/subscriptions/${DEV}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid('Reader')}`, principalId: identity.properties.principalId, principalType: 'ServicePrincipal' },
    });
    // The spec drops the Contributor role and stops authorizing any pipeline.
    const narrower = specText([{ ...devEnvironment, connections: [{ name: 'app-dev', shareWith: ['Apps'], authorize: 'none' }], roles: [devEnvironment.roles[1]] }]);
    const run = await world.run({ environments: narrower, prune: 'true' });
    assert.equal(run.result, 'Succeeded', transcript(run));
    const assignments = assignmentsOf(world.state(), identity.properties.principalId);
    assert.equal(assignments.some((assignment) => assignment.properties.scope.endsWith('/rg-app-dev')), false, 'Contributor removed');
    assert.ok(assignments.some((assignment) => assignment.name === extra), 'the operator assignment stays');
    // Pipeline 2 loses its permission; the running pipeline keeps it (its verification run needs it).
    const permissions = permissionsOf(world.state(), connection.id)!;
    assert.deepEqual(permissions.pipelines.filter((pipeline) => pipeline.authorized).map((pipeline) => pipeline.id), [1]);
    assert.equal(requestsTo(run.writes, 'devops.pipelinepermissions').length, 1);
  });

  it('prune removes the role assignments a deleted identity left behind on its old principal', async () => {
    const first = await world.run({ environments: devOnly });
    assert.equal(first.result, 'Succeeded', transcript(first));
    const old = identityNamed(world.state(), 'id-ado-dev')!;
    // Someone deletes the identity; ARM leaves its two assignments behind.
    const deleted = await world.armAsSystem('DELETE', `${old.id}?api-version=2023-01-31`);
    assert.equal(deleted.status, 200);
    assert.equal(assignmentsOf(world.state(), old.properties.principalId).length, 2);
    // provision recreates it (new principal) and reports the leftovers; with prune it removes them.
    const recreated = await world.run({ environments: devOnly });
    assert.ok(codes(recreated).includes('MIC530'), transcript(recreated));
    assert.equal(assignmentsOf(world.state(), old.properties.principalId).length, 2);
    const pruned = await world.run({ environments: devOnly, prune: 'true' });
    assert.equal(pruned.result, 'Succeeded', transcript(pruned));
    assert.deepEqual(assignmentsOf(world.state(), old.properties.principalId), []);
    const fresh = identityNamed(world.state(), 'id-ado-dev')!;
    assert.notEqual(fresh.properties.principalId, old.properties.principalId);
    assert.equal(assignmentsOf(world.state(), fresh.properties.principalId).length, 2);
  });

  it('teardown needs only (MIC150) and writes nothing without it', async () => {
    const run = await world.run({ command: 'teardown', environments: devOnly });
    assert.equal(run.result, 'Failed', transcript(run));
    assert.ok(run.problems.some((problem) => problem.code === 'MIC150'), transcript(run));
    assert.equal(run.requests.length, 0);
  });

  it('teardown with dryRun prints what it would delete, sets permissionsNarrowed, and writes nothing', async () => {
    const first = await world.run({ environments: devOnly });
    assert.equal(first.result, 'Succeeded', transcript(first));
    const run = await world.run({ command: 'teardown', environments: devOnly, only: 'dev', dryRun: 'true' });
    assert.equal(run.result, 'Succeeded', transcript(run));
    assert.equal(run.writes.length, 0);
    assert.equal(run.outputs['permissionsNarrowed'], 'true');
    assert.match(run.resultMessage ?? '', /Teardown dry run: \d+ objects would be deleted or narrowed; nothing was changed/);
    assert.ok(run.log.some((line) => /delete managed identity id-ado-dev/.test(line)), transcript(run));
  });

  it('teardown leaves an identity without the marker alone (MIC533)', async () => {
    // An identity made by hand, named explicitly in the spec.
    const named = specText([{ ...devEnvironment, identity: { name: 'id-by-hand' } }]);
    await world.armAsSystem('PUT', `/subscriptions/${DEV}/resourceGroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-by-hand?api-version=2023-01-31`, { location: 'westeurope' });
    const first = await world.run({ environments: named });
    assert.equal(first.result, 'Succeeded', transcript(first));
    assert.equal(identityNamed(world.state(), 'id-by-hand')!.tags['managed-by'], undefined, 'never adopted');
    const run = await world.run({ command: 'teardown', environments: named, only: 'dev', maxDeletions: '20' });
    assert.ok(codes(run).includes('MIC533'), transcript(run));
    assert.ok(identityNamed(world.state(), 'id-by-hand'), 'kept');
  });

  describe('teardown, killed at every step, is finished by a rerun', () => {
    // The task process dies (SIGKILL) right after sending the step's request: the service may or may not have
    // done it, and nothing after it started. The rerun must find the rest and finish.
    const killer = join(__dirname, 'instrumentation', 'kill-on-request.js');
    const steps: [string, string | (() => string)][] = [
      ['share', () => `^DELETE [^ ]*serviceendpoint/endpoints/[^ ]*projectIds=(?!${world.info.project.id})`],
      ['pipeline permissions', '^PATCH [^ ]*pipelinepermissions'],
      ['connection', () => `^DELETE [^ ]*serviceendpoint/endpoints/[^ ]*projectIds=${world.info.project.id}`],
      ['credential', '^DELETE [^ ]*federatedIdentityCredentials/'],
      ['role assignment', '^DELETE [^ ]*roleAssignments/'],
      ['identity', '^DELETE [^ ]*userAssignedIdentities/[^/ ?]+\\?'],
    ];
    for (const [step, request] of steps) {
      it(`killed while deleting the ${step}`, async function () {
        this.timeout(30_000);
        const first = await world.run({ environments: devOnly });
        assert.equal(first.result, 'Succeeded', transcript(first));
        const principalId = identityNamed(world.state(), 'id-ado-dev')!.properties.principalId;
        const killOn = typeof request === 'string' ? request : request();
        const killed = await world.run({ command: 'teardown', environments: devOnly, only: 'dev' }, { extraEnv: { NODE_OPTIONS: `--require ${killer}`, MIC_KILL_ON: killOn } });
        assert.equal(killed.result, undefined, `the task was killed before it finished: ${transcript(killed)}`);
        assert.equal(killed.exitCode, null);
        const rerun = await world.run({ command: 'teardown', environments: devOnly, only: 'dev' });
        assert.equal(rerun.result, 'Succeeded', transcript(rerun));
        const left = holdings(world.state(), 'id-ado-dev', 'app-dev');
        assert.deepEqual([left.identity, left.connection], [undefined, undefined]);
        assert.deepEqual(assignmentsOf(world.state(), principalId), []);
      });
    }
  });

  describe('teardown, stopped at every step, is finished by a rerun', () => {
    const steps = ['devops.pipelinepermissions.update', 'devops.endpoints.delete', 'arm.fic.delete', 'arm.roleassignments.delete', 'arm.identities.delete'];
    for (const step of steps) {
      it(`stopped at ${step}`, async function () {
        this.timeout(30_000);
        const first = await world.run({ environments: devOnly });
        assert.equal(first.result, 'Succeeded', transcript(first));
        const principalId = identityNamed(world.state(), 'id-ado-dev')!.properties.principalId;
        // The service refuses the step (403, not retried): the run stops there, as a kill would, with every
        // earlier step done and nothing later started.
        await world.control('POST', 'faults', { rules: [{ route: step, status: 403 }] });
        const stopped = await world.run({ command: 'teardown', environments: devOnly, only: 'dev' });
        assert.equal(stopped.result, 'Failed', transcript(stopped));
        assert.ok(holdings(world.state(), 'id-ado-dev', 'app-dev').identity, 'the identity goes last');
        await world.control('POST', 'faults', { rules: [] });
        const rerun = await world.run({ command: 'teardown', environments: devOnly, only: 'dev' });
        assert.equal(rerun.result, 'Succeeded', transcript(rerun));
        const left = holdings(world.state(), 'id-ado-dev', 'app-dev');
        assert.deepEqual([left.identity, left.connection], [undefined, undefined]);
        // Outputs name only what still exists.
        assert.equal(rerun.outputs['identityClientId_dev'], undefined);
        assert.equal(rerun.outputs['connectionId_app_dev'], undefined);
        assert.deepEqual(assignmentsOf(world.state(), principalId), [], 'no assignment left on the old principal');
        const third = await world.run({ command: 'teardown', environments: devOnly, only: 'dev' });
        assert.equal(third.writes.length, 0, 'nothing left to do');
      });
    }
  });
});
