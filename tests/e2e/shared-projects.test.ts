// Protects the platform-team pattern against the real services' terms: a connection created in the platform
// project, shared with an application project (`shareWith`), and authorized for a pipeline of that
// application project (`authorize: [id]`). Azure DevOps keeps pipeline permissions per project — a pipeline
// of Apps is authorized through Apps' pipelinePermissions route, after the connection is shared there — and
// refuses a pipeline id the project does not have. A pipeline id that no project of the connection has is a
// coded error before any write. A shared connection deleted in its owner project only (DELETE with that
// project's id) lives on in the other: the task reports that, writes nothing, and so never points the
// identity's federated credential at a new connection while the old copy is still in use.
import assert from 'node:assert/strict';
import { connectionNamed, credentialsOf, devEnvironment, e2eWorld, identityNamed, specText, transcript, type PipelinePermissionView } from './harness';

/** `deploy-app`, a pipeline of project Apps in the emulator's default world (docs/emulator.md). */
const APPS_PIPELINE = 3;

function appsDev(authorize: unknown): string {
  return specText([{ ...devEnvironment, connections: [{ name: 'app-dev', shareWith: ['Apps'], authorize }] }]);
}

describe('e2e: a connection shared with another project', () => {
  const world = e2eWorld();

  function permissionsIn(project: string, connectionId: string): PipelinePermissionView | undefined {
    return world.state().pipelinePermissions.find((permission) => permission.project === project && permission.resource.type === 'endpoint' && permission.resource.id === connectionId);
  }

  it('authorizes a pipeline of the shareWith project through that project\'s pipeline permissions, and a rerun writes nothing', async () => {
    // GIVEN the platform pattern: share with Apps, authorize a pipeline of Apps
    const spec = appsDev([APPS_PIPELINE]);
    // WHEN provision runs
    const run = await world.run({ environments: spec });
    // THEN it succeeds, and Apps (not Platform) lets deploy-app use the connection
    assert.equal(run.result, 'Succeeded', transcript(run));
    const connection = connectionNamed(world.state(), 'app-dev')!;
    assert.deepEqual(permissionsIn('Apps', connection.id)?.pipelines.map((pipeline) => pipeline.id), [APPS_PIPELINE]);
    assert.ok(!permissionsIn('Platform', connection.id)?.pipelines.some((pipeline) => pipeline.id === APPS_PIPELINE));
    // AND the second run reads Apps' permissions and finds nothing to do
    const again = await world.run({ environments: spec });
    assert.equal(again.result, 'Succeeded', transcript(again));
    assert.equal(again.writes.length, 0, JSON.stringify(again.writes));
  });

  it('refuses a pipeline id that neither the project nor a shareWith project has: MIC412, nothing written', async () => {
    const run = await world.run({ environments: appsDev([APPS_PIPELINE, 999]) });
    assert.equal(run.result, 'Failed', transcript(run));
    assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC412'], transcript(run));
    assert.match(run.problems[0]!.text, /999/);
    assert.match(run.problems[0]!.text, /Platform, Apps/);
    assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
    assert.equal(identityNamed(world.state(), 'id-ado-dev'), undefined);
  });

  describe('deleted in its owner project while still shared', () => {
    it('reports MIC413 naming the project that still has it, and writes nothing: the credential still trusts the shared copy', async () => {
      // GIVEN app-dev provisioned and shared with Apps, then deleted in Platform only
      const spec = specText([devEnvironment]);
      const first = await world.run({ environments: spec });
      assert.equal(first.result, 'Succeeded', transcript(first));
      const shared = connectionNamed(world.state(), 'app-dev')!;
      const identity = identityNamed(world.state(), 'id-ado-dev')!;
      const credentialsBefore = credentialsOf(world.state(), identity).map((credential) => credential.properties.subject);
      const info = world.info;
      const deleted = await fetch(`${info.collectionUri}_apis/serviceendpoint/endpoints/${shared.id}?projectIds=${info.project.id}&api-version=7.1`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${info.systemAccessToken}` },
      });
      assert.equal(deleted.status, 204, await deleted.text());
      assert.ok(connectionNamed(world.state(), 'app-dev'), 'the copy shared with Apps lives on');
      // WHEN provision runs again
      const run = await world.run({ environments: spec });
      // THEN it stops before any write with a coded, actionable error
      assert.equal(run.result, 'Failed', transcript(run));
      assert.deepEqual(run.problems.map((problem) => problem.code), ['MIC413'], transcript(run));
      const [problem] = run.problems;
      assert.ok(problem!.text.includes(shared.id) && problem!.text.includes('Apps'), problem!.text);
      assert.equal(run.writes.length, 0, JSON.stringify(run.writes));
      // AND the identity's credential still trusts the copy Apps uses
      assert.deepEqual(credentialsOf(world.state(), identity).map((credential) => credential.properties.subject), credentialsBefore);
    });
  });
});
