// The verification run's two calls through the real Azure DevOps adapter (azure-devops-node-api's
// PipelinesApi) against the in-process emulator. This suite protects the adapter's half of the contract the
// core relies on: a run is queued on the branch and with the template parameters given, with the job's
// token; its state, result and web address come back as domain values, whatever the client does to the
// enums; and a refusal ("The pipeline is not valid", an undeclared parameter) is MIC410 with Azure DevOps'
// reason, not a bare HTTP error.
import * as assert from 'node:assert/strict';
import { AzureDevOpsClient } from '../../tasks/ManagedIdentityConnections/src/adapters/devops-client';
import { devOpsTransport } from '../../tasks/ManagedIdentityConnections/src/adapters/http-client';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { isTaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { Secret } from '../../tasks/ManagedIdentityConnections/src/secret';
import type { RunningEmulator } from '../emulator/emulator';
import { FakePlatform } from '../fakes/fake-platform';
import { control, startTestEmulator } from '../helpers/emulator';

describe('Azure DevOps adapter: pipeline runs, against the emulator', function () {
  this.timeout(30_000);
  let emulator: RunningEmulator;
  let client: AzureDevOpsClient;

  before(async () => {
    emulator = await startTestEmulator();
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 5_000, initialDelayMs: 50, maxDelayMs: 100 });
    client = new AzureDevOpsClient(
      { collectionUri: String(emulator.info.collectionUri), project: emulator.info.project as { id: string; name: string }, token: new Secret(String(emulator.info.systemAccessToken)), userAgent: 'test', transport: devOpsTransport() },
      calls,
    );
  });

  after(async () => {
    await emulator?.close();
  });

  async function refusal(action: () => Promise<unknown>) {
    try {
      await action();
    } catch (error) {
      assert.ok(isTaskError(error), String(error));
      return error;
    }
    assert.fail('expected a refusal');
  }

  it('queues a run on the given branch, then reads it back as it completes', async () => {
    const queued = await client.queueRun({ pipelineId: 1, branch: 'refs/heads/feature/identities', templateParameters: {} });
    assert.deepEqual([queued.pipelineId, queued.state, queued.result], [1, 'inProgress', undefined]);
    assert.match(queued.url, /\/_build\/results\?buildId=\d+$/);
    const state = await control<{ pipelineRuns: { id: number; resources: { repositories: { self: { refName: string } } } }[] }>(emulator, 'GET', 'state');
    assert.equal(state.pipelineRuns.find((item) => item.id === queued.id)?.resources.repositories.self.refName, 'refs/heads/feature/identities');

    assert.equal((await client.getRun(1, queued.id)).state, 'inProgress');
    await control(emulator, 'POST', `devops/runs/${queued.id}/complete`, { result: 'succeeded' });
    const done = await client.getRun(1, queued.id);
    assert.deepEqual([done.id, done.name, done.state, done.result, done.url], [queued.id, queued.name, 'completed', 'succeeded', queued.url]);
  });

  for (const result of ['failed', 'canceled'] as const) {
    it(`reads a run that ${result === 'failed' ? 'failed' : 'was canceled'}`, async () => {
      const queued = await client.queueRun({ pipelineId: 1, templateParameters: {} });
      await control(emulator, 'POST', `devops/runs/${queued.id}/complete`, { result });
      assert.deepEqual([(await client.getRun(1, queued.id)).state, (await client.getRun(1, queued.id)).result], ['completed', result]);
    });
  }

  it('passes the template parameters through, and reports an undeclared one as MIC410', async () => {
    const queued = await client.queueRun({ pipelineId: 1, templateParameters: { mode: 'verify' } });
    const runs = (await control<{ pipelineRuns: { id: number; templateParameters: Record<string, string> }[] }>(emulator, 'GET', 'state')).pipelineRuns;
    assert.deepEqual(runs.find((run) => run.id === queued.id)?.templateParameters, { mode: 'verify' });
    const error = await refusal(() => client.queueRun({ pipelineId: 1, templateParameters: { colour: 'blue' } }));
    assert.equal(error.code, 'MIC410');
    assert.match(error.message, /queue a run of pipeline 1: Unexpected parameter 'colour'/);
  });

  it('reports a run that names a connection its pipeline may not use as MIC410, with the reason', async () => {
    const error = await refusal(() => client.queueRun({ pipelineId: 2, templateParameters: { connections: 'bootstrap' } }));
    assert.equal(error.code, 'MIC410');
    assert.match(error.message, /The pipeline is not valid\..*service connection bootstrap .*has not been authorized for use/s);
  });
});
