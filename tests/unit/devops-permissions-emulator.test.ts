// Pipeline permissions through the real Azure DevOps adapter against the in-process emulator. Connections
// authorized at about the same time (parallel environments) share one request to the list route; a lone one
// uses the single-resource route; and when Azure DevOps refuses a list because of one entry, each connection
// is asked again on its own, so only the entry at fault fails — with a TaskError, not a bare HTTP error.
import * as assert from 'node:assert/strict';
import { AzureDevOpsClient } from '../../tasks/ManagedIdentityConnections/src/adapters/devops-client';
import { devOpsTransport } from '../../tasks/ManagedIdentityConnections/src/adapters/http-client';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { isTaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import type { ConnectionDefinition } from '../../tasks/ManagedIdentityConnections/src/ports/devops';
import { Secret } from '../../tasks/ManagedIdentityConnections/src/secret';
import type { RunningEmulator } from '../emulator/emulator';
import { jsonLine } from '../emulator/json-line';
import { FakePlatform } from '../fakes/fake-platform';
import { control, startTestEmulator } from '../helpers/emulator';

interface Permissions {
  readonly pipelines: readonly { id: number }[];
}

describe('Azure DevOps adapter: pipeline permissions, against the emulator', function () {
  this.timeout(30_000);
  let emulator: RunningEmulator;
  let client: AzureDevOpsClient;
  let connectionIds: string[];

  before(async () => {
    emulator = await startTestEmulator();
    const info = jsonLine(emulator);
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 5_000, initialDelayMs: 50, maxDelayMs: 100 });
    client = new AzureDevOpsClient({ collectionUri: info.collectionUri, project: info.project, token: new Secret(info.systemAccessToken), userAgent: 'test', transport: devOpsTransport() }, calls);
    const definition = (name: string): ConnectionDefinition => ({
      name,
      description: '',
      url: info.armEndpoint,
      azureEnvironment: 'AzureCloud',
      tenantId: info.tenantId,
      clientId: '33333333-0000-4000-8000-00000000000a',
      subscriptionId: info.subscriptions[0]!.id,
      subscriptionName: info.subscriptions[0]!.name,
      project: info.project,
    });
    connectionIds = [];
    for (const name of ['perm-a', 'perm-b', 'perm-c']) connectionIds.push((await client.createConnection(definition(name))).id);
  });
  after(() => emulator.close());

  async function routesDuring(work: () => Promise<unknown>): Promise<string[]> {
    const before = await control<{ log: unknown[] }>(emulator, 'GET', 'requests');
    await work();
    const after = await control<{ log: { route: string }[] }>(emulator, 'GET', `requests?since=${before.log.length}`);
    return after.log.map((entry) => entry.route).filter((route) => route.startsWith('devops.pipelinepermissions'));
  }

  async function authorizedPipelines(connectionId: string): Promise<number[]> {
    const info = jsonLine(emulator);
    const response = await fetch(`${info.collectionUri}${info.project.id}/_apis/pipelines/pipelinepermissions/endpoint/${connectionId}?api-version=7.1-preview.1`, {
      headers: { authorization: `Bearer ${info.systemAccessToken}` },
    });
    return ((await response.json()) as Permissions).pipelines.map((pipeline) => pipeline.id);
  }

  it('authorizes connections asked for together in one request', async () => {
    const [a, b] = connectionIds;
    const routes = await routesDuring(() => Promise.all([client.authorizePipelines(a!, { pipelineIds: [1] }), client.authorizePipelines(b!, { pipelineIds: [1] })]));
    assert.deepEqual(routes, ['devops.pipelinepermissions.update-many']);
    assert.deepEqual([await authorizedPipelines(a!), await authorizedPipelines(b!)], [[1], [1]]);
  });

  it('uses the single-resource route for a lone connection', async () => {
    const routes = await routesDuring(() => client.authorizePipelines(connectionIds[2]!, { pipelineIds: [1] }));
    assert.deepEqual(routes, ['devops.pipelinepermissions.update']);
  });

  it('asks one by one when the list is refused, so that only the connection at fault fails', async () => {
    const [a, , c] = connectionIds;
    const missingPipeline = 4242;
    let outcomes: PromiseSettledResult<void>[] = [];
    const routes = await routesDuring(async () => {
      outcomes = await Promise.allSettled([client.authorizePipelines(a!, { pipelineIds: [missingPipeline] }), client.authorizePipelines(c!, { pipelineIds: [1] })]);
    });
    assert.deepEqual(routes.sort(), ['devops.pipelinepermissions.update', 'devops.pipelinepermissions.update', 'devops.pipelinepermissions.update-many']);
    assert.equal(outcomes[1]!.status, 'fulfilled');
    assert.equal(outcomes[0]!.status, 'rejected');
    const reason = (outcomes[0] as PromiseRejectedResult).reason as Error;
    assert.ok(isTaskError(reason), String(reason));
    assert.match(reason.message, new RegExp(`${missingPipeline}`));
    assert.deepEqual(await authorizedPipelines(a!), [1], 'the refused update changed nothing');
  });
});
