// Protects pipeline permissions and runs: a PATCH changes only the pipelines it names, allPipelines opens
// a connection to every pipeline, a run that references a connection it may not use is refused as "not
// valid" the way YAML compilation refuses it, an authorized run gets a job that references its
// connections (and can get their ID tokens), and the control API completes runs with a result.
import assert from 'node:assert/strict';
import { getBearerHandler, WebApi } from 'azure-devops-node-api';
import type { ServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { RunResult, RunState } from 'azure-devops-node-api/interfaces/PipelinesInterfaces';
import { ado, OFFLINE, startOfflineEmulator, tokenFor, wifConnectionBody } from './test-world';
import type { RunningEmulator } from '../emulator';
import { control } from '../../helpers/emulator';

interface Permissions {
  resource: { type: string; id: string };
  allPipelines?: { authorized: boolean; authorizedBy: { id: string }; authorizedOn: string };
  pipelines: Array<{ id: number; authorized: boolean; authorizedBy: { id: string }; authorizedOn: string }>;
}

describe('devops: pipeline permissions and runs', () => {
  let emulator: RunningEmulator;
  let api: WebApi;
  let token: string;

  before(async () => {
    emulator = await startOfflineEmulator();
  });
  after(() => emulator.close());
  beforeEach(async () => {
    await emulator.reset();
    token = String(emulator.info.systemAccessToken);
    api = new WebApi(String(emulator.info.collectionUri), getBearerHandler(token));
  });

  /** No node-api client exists for pipeline permissions: WebApi's own rest client, as the task will use it. */
  async function permissions(method: 'GET' | 'PATCH', path: string, body?: unknown): Promise<Permissions & { count?: number; value?: Permissions[] }> {
    const url = `${String(emulator.info.collectionUri)}Platform/_apis/pipelines/pipelinePermissions${path}`;
    const options = { acceptHeader: 'application/json;api-version=7.1-preview.1' };
    const response = method === 'GET' ? await api.rest.get<Permissions>(url, options) : await api.rest.update<Permissions>(url, body, options);
    return response.result as Permissions;
  }

  async function newConnection(name: string): Promise<string> {
    const endpoints = await api.getServiceEndpointApi();
    return (await endpoints.createServiceEndpoint(wifConnectionBody(name) as ServiceEndpoint)).id!;
  }

  it('authorizes single pipelines and leaves the ones a PATCH does not name unchanged', async () => {
    const id = await newConnection('env-a');
    assert.deepEqual((await permissions('GET', `/endpoint/${id}`)).pipelines, []);
    await permissions('PATCH', `/endpoint/${id}`, { resource: { type: 'endpoint', id }, pipelines: [{ id: 1, authorized: true }] });
    const after = await permissions('PATCH', `/endpoint/${id}`, { pipelines: [{ id: 2, authorized: true }] });
    assert.deepEqual(after.pipelines.map((pipeline) => pipeline.id), [1, 2]);
    assert.equal(after.allPipelines, undefined);
    assert.equal(after.pipelines[0].authorized, true);
    const revoked = await permissions('PATCH', `/endpoint/${id}`, { pipelines: [{ id: 1, authorized: false }] });
    assert.deepEqual(revoked.pipelines.map((pipeline) => pipeline.id), [2]);
  });

  it('opens a connection to all pipelines and updates several resources in one batch', async () => {
    const first = await newConnection('env-b');
    const second = await newConnection('env-c');
    const batch = (await permissions('PATCH', '', [
      { resource: { type: 'endpoint', id: first }, allPipelines: { authorized: true } },
      { resource: { type: 'endpoint', id: second }, pipelines: [{ id: 2, authorized: true }] },
    ])) as { count: number; value: Permissions[] };
    assert.equal(batch.count, 2);
    assert.equal(batch.value[0].allPipelines?.authorized, true);
    assert.deepEqual(batch.value[1].pipelines.map((pipeline) => pipeline.id), [2]);
    assert.equal((emulator.state().pipelinePermissions as unknown[]).length, 3, 'the seeded bootstrap grant plus two');
  });

  it('refuses a batch as a whole when one update is not allowed', async () => {
    const mine = await newConnection('env-d');
    const response = await ado(emulator, 'PATCH', 'Platform/_apis/pipelines/pipelinePermissions', {
      token,
      apiVersion: '7.1-preview.1',
      body: [
        { resource: { type: 'endpoint', id: mine }, allPipelines: { authorized: true } },
        { resource: { type: 'endpoint', id: OFFLINE.connectionId }, allPipelines: { authorized: true } },
      ],
    });
    assert.equal(response.status, 403, 'the build service is no Administrator of the bootstrap connection');
    assert.equal((await permissions('GET', `/endpoint/${mine}`)).allPipelines, undefined, 'nothing was written');
  });

  it('refuses pipelines that do not exist in the project', async () => {
    const id = await newConnection('env-e');
    const response = await ado<{ message: string }>(emulator, 'PATCH', `Platform/_apis/pipelines/pipelinePermissions/endpoint/${id}`, {
      token,
      apiVersion: '7.1-preview.1',
      body: { pipelines: [{ id: 3, authorized: true }] },
    });
    assert.equal(response.status, 400, 'pipeline 3 lives in Apps');
  });

  it('queues, reads and lists runs with PipelinesApi and completes them through the control API', async () => {
    const pipelines = await api.getPipelinesApi();
    assert.deepEqual((await pipelines.listPipelines('Platform')).map((pipeline) => pipeline.name), ['bootstrap', 'verify-connections']);
    assert.equal((await pipelines.getPipeline('Platform', 2)).name, 'verify-connections');
    const run = await pipelines.runPipeline({ templateParameters: { connections: '[]' }, resources: { repositories: { self: { refName: 'refs/heads/feature/x' } } } }, 'Platform', 2);
    assert.equal(run.state, RunState.InProgress);
    assert.deepEqual(run.templateParameters, { connections: '[]' });
    assert.equal(run.resources?.repositories?.self.refName, 'refs/heads/feature/x');
    await control(emulator, 'POST', `devops/runs/${run.id}/complete`, { result: 'failed' });
    const done = await pipelines.getRun('Platform', 2, run.id!);
    assert.equal(done.state, RunState.Completed);
    assert.equal(done.result, RunResult.Failed);
    assert.ok(done.finishedDate instanceof Date);
    assert.deepEqual((await pipelines.listRuns('Platform', 2)).map((item) => item.id), [run.id]);
  });

  it('refuses a run whose YAML references a connection that is not authorized for it, then runs it once authorized', async () => {
    const id = await newConnection('env-verify');
    const pipelines = await api.getPipelinesApi();
    await assert.rejects(pipelines.runPipeline({ templateParameters: { connections: '["env-verify"]' } }, 'Platform', 2), (error: Error & { statusCode?: number }) => {
      assert.equal(error.statusCode, 400);
      assert.match(error.message, /^The pipeline is not valid\. Job Job: Step AzureCLI input azureSubscription references service connection env-verify which could not be found\./);
      return true;
    });
    await permissions('PATCH', `/endpoint/${id}`, { pipelines: [{ id: 2, authorized: true }] });
    const run = await pipelines.runPipeline({ templateParameters: { connections: '["env-verify"]' } }, 'Platform', 2);
    const state = emulator.state() as { pipelineRuns: Array<{ id: number; jobIds: string[] }> };
    const jobId = state.pipelineRuns.find((item) => item.id === run.id)!.jobIds[0];
    const env = await control<Record<string, string>>(emulator, 'GET', `devops/jobs/${jobId}/agent-env`);
    assert.equal(env[`ENDPOINT_AUTH_SCHEME_${id}`], 'WorkloadIdentityFederation');
    const oidc = await fetch(`${env.SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId=${id}`, { method: 'POST', headers: { authorization: `Bearer ${env.SECRET_SYSTEM_ACCESSTOKEN}` } });
    assert.equal(oidc.status, 200, 'the verification job may get the new connection’s ID token');
  });

  it('refuses a disabled connection and undeclared template parameters like YAML compilation does', async () => {
    const pipelines = await api.getPipelinesApi();
    await control(emulator, 'POST', `devops/serviceendpoints/${OFFLINE.connectionId}/disable`);
    await assert.rejects(pipelines.runPipeline({}, 'Platform', 1), /has been disabled or has not been authorized for use/);
    await assert.rejects(pipelines.runPipeline({ templateParameters: { nope: 'x' } }, 'Platform', 2), /Unexpected parameter 'nope'/);
  });

  it('records a finished run’s job in the connection’s execution history', async () => {
    const owner = await tokenFor(emulator, 'owner');
    const path = `Platform/_apis/serviceendpoint/${OFFLINE.connectionId}/executionhistory?top=10`;
    assert.equal((await ado<{ count: number }>(emulator, 'GET', path, { token: owner })).body.count, 0, 'the bootstrap run is still running');
    const bootstrapRun = (emulator.state() as { pipelineRuns: Array<{ id: number; pipeline: { id: number } }> }).pipelineRuns.find((run) => run.pipeline.id === 1)!;
    await control(emulator, 'POST', `devops/runs/${bootstrapRun.id}/complete`, { result: 'succeeded' });
    const history = await ado<{ count: number; value: Array<{ endpointId: string; data: { id: number; result: string; definition: { name: string } } }> }>(emulator, 'GET', path, { token: owner });
    assert.equal(history.status, 200);
    assert.equal(history.body.count, 1);
    assert.equal(history.body.value[0].data.definition.name, 'bootstrap');
    assert.equal(history.body.value[0].data.result, 'succeeded');
  });
});
