// Protects the task's HTTP/2 transport for ARM and Entra ID (adapters/http2-client.ts) end to end: against an
// emulator that offers h2, every ARM and Entra request of a run shares one connection and a stream reset is
// retried like a dropped connection; against one that offers only HTTP/1.1 (a front door without h2), the same
// run falls back to HTTP/1.1 and succeeds unchanged.
import assert from 'node:assert/strict';
import { devEnvironment, e2eWorld, requestsTo, specText, transcript } from './harness';

const environments = specText([devEnvironment, { ...devEnvironment, name: 'prod', connections: [{ ...devEnvironment.connections[0], name: 'app-prod' }] }]);

describe('e2e: HTTP/2 to ARM and Entra ID', () => {
  describe('against an emulator that offers h2', () => {
    const world = e2eWorld();

    it('sends every ARM and Entra request of a run on one HTTP/2 connection; azure-devops-node-api stays on HTTP/1.1', async () => {
      const run = await world.run({ environments });
      assert.equal(run.result, 'Succeeded', transcript(run));
      const azure = run.requests.filter((entry) => entry.service === 'arm' || entry.service === 'entra');
      const devops = run.requests.filter((entry) => entry.service === 'devops');
      assert.ok(azure.length >= 10 && devops.length > 0);
      assert.deepEqual(azure.filter((entry) => entry.protocol !== 'h2').map((entry) => `${entry.method} ${entry.route}`), []);
      // The job's OIDC token is asked for by @azure/identity's AzurePipelinesCredential, through the SDK pipeline.
      assert.deepEqual(new Set(devops.filter((entry) => entry.protocol === 'h2').map((entry) => entry.route)), new Set(['devops.oidctoken']));
      assert.ok(devops.some((entry) => entry.protocol === 'http/1.1'));
      assert.equal(world.emulator.ctx.requests.http2Connections, 1);
    });

    it('retries a write whose stream was reset before or after the server did it, without duplicating it', async () => {
      await world.control('POST', 'faults', { rules: [{ route: 'arm.identities.put', drop: true, times: 1 }, { route: 'arm.fic.put', dropAfterCommit: true, times: 1 }] });
      const run = await world.run({ environments: specText([devEnvironment]) });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.deepEqual(requestsTo(run.requests, 'arm.identities.put').map((entry) => [entry.protocol, entry.status]), [['h2', 0], ['h2', 201]]);
      assert.ok(requestsTo(run.requests, 'arm.fic.put').length >= 2, transcript(run));
      assert.equal(world.emulator.ctx.requests.http2Connections, 1, 'a reset stream leaves the connection in use');
    });
  });

  describe('against an emulator that offers only HTTP/1.1', () => {
    const world = e2eWorld({ emulator: { http2: false } });

    it('falls back to HTTP/1.1 for every request and provisions the same', async () => {
      const run = await world.run({ environments });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.deepEqual(new Set(run.requests.map((entry) => entry.protocol)), new Set(['http/1.1']));
      assert.equal(world.emulator.ctx.requests.http2Connections, 0);
    });
  });
});
