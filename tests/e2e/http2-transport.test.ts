// Protects the task's HTTP/2 transport (adapters/http2-client.ts) end to end: against an emulator that offers
// h2, every request of a run — ARM, Entra and Azure DevOps (azure-devops-node-api through devops-transport.ts)
// — shares one connection and a stream reset is retried like a dropped connection; against one that offers
// only HTTP/1.1 (a front door without h2), the same run falls back to HTTP/1.1 and succeeds unchanged.
import assert from 'node:assert/strict';
import { devEnvironment, e2eWorld, requestsTo, specText, transcript } from './harness';

const environments = specText([devEnvironment, { ...devEnvironment, name: 'prod', connections: [{ ...devEnvironment.connections[0], name: 'app-prod' }] }]);

describe('e2e: HTTP/2 to ARM, Entra ID and Azure DevOps', () => {
  describe('against an emulator that offers h2', () => {
    const world = e2eWorld();

    it('sends every request of a run, Azure DevOps included, on one HTTP/2 connection', async () => {
      const run = await world.run({ environments });
      assert.equal(run.result, 'Succeeded', transcript(run));
      const services = new Set(run.requests.map((entry) => entry.service));
      assert.ok((['arm', 'entra', 'devops'] as const).every((service) => services.has(service)), [...services].join(', '));
      assert.deepEqual(run.requests.filter((entry) => entry.protocol !== 'h2').map((entry) => `${entry.method} ${entry.route}`), []);
      assert.equal(world.emulator.ctx.requests.http2Connections, 1);
      assert.equal(world.emulator.ctx.requests.tlsConnections, 1, 'no HTTP/1.1 connection beside it');
    });

    it('retries a write whose stream was reset before or after the server did it, without duplicating it', async () => {
      await world.control('POST', 'faults', {
        rules: [
          { route: 'arm.identities.put', drop: true, times: 1 },
          { route: 'arm.fic.put', dropAfterCommit: true, times: 1 },
          { route: 'devops.endpoints.create', dropAfterCommit: true, times: 1 },
        ],
      });
      const run = await world.run({ environments: specText([devEnvironment]) });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.deepEqual(requestsTo(run.requests, 'arm.identities.put').map((entry) => [entry.protocol, entry.status]), [['h2', 0], ['h2', 201]]);
      assert.ok(requestsTo(run.requests, 'arm.fic.put').length >= 2, transcript(run));
      // The connection was created though its answer was lost: the retry finds it instead of posting again.
      assert.deepEqual(requestsTo(run.requests, 'devops.endpoints.create').map((entry) => entry.protocol), ['h2'], transcript(run));
      assert.equal(world.state().serviceEndpoints.filter((endpoint) => endpoint.name.toLowerCase() === 'app-dev').length, 1, 'no duplicate connection');
      assert.equal(world.emulator.ctx.requests.http2Connections, 1, 'a reset stream leaves the connection in use');
    });
  });

  describe('with more calls in flight and waiting than Node allows listeners on one signal (ten)', () => {
    const world = e2eWorld();

    it('cancels them all through the run signal without a listener each: nothing on stderr', async () => {
      // Twelve environments whose credentials take a moment to propagate: twelve connection writes in flight on
      // one HTTP/2 connection, then twelve verifications waiting to poll again. Each used to add a listener to
      // the run's signal, and Node printed a MaxListenersExceededWarning into the agent's log. Under Node 24 (CI
      // runs this tier again with MIC_TASK_NODE) it also guards dependency-deprecations.ts: DEP0169 printed once.
      await world.control('POST', 'delays', { ficPropagationMs: 400 });
      const environments = Array.from({ length: 12 }, (_, index) => ({
        ...devEnvironment,
        name: `env-${index}`,
        connections: [{ name: `app-${index}` }],
      }));
      const run = await world.run({ environments: specText(environments) });
      assert.equal(run.result, 'Succeeded', transcript(run));
      assert.ok(requestsTo(run.requests, 'devops.endpointproxy').length > 12, 'verifications polled again');
      assert.equal(run.stderr, '');
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
