// Protects `npm run bench -- --calls` (scripts/lib/call-costs.ts, call-probe.ts): each kind sends what it says
// — requests the emulator answers with success on the route that kind names — and reports a CPU figure per
// request, so that the figure is about those requests and not about failures or retries.
import assert from 'node:assert/strict';
import { CALL_KINDS, measureCallCosts, runProbe, type CallKind } from '../../scripts/lib/call-costs';
import type { RunningEmulator } from '../emulator/emulator';
import { startTestEmulator } from '../helpers/emulator';

const ROUTES: Record<CallKind, string> = {
  http2: 'arm.identities.put',
  armWrite: 'arm.identities.put',
  devOpsTransport: 'devops.endpoints.list',
  devOpsRead: 'devops.endpoints.list',
  devOpsWrite: 'devops.endpoints.create',
};

describe('bench --calls: the CPU one request costs, per kind', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;

  before(async () => {
    emulator = await startTestEmulator();
  });
  after(() => emulator.close());

  for (const kind of CALL_KINDS) {
    it(`${kind}: sends its requests, all answered with success on ${ROUTES[kind]}, and reports their CPU`, async () => {
      await emulator.reset();
      const result = await runProbe(emulator, kind, 5);
      assert.deepEqual([result.kind, result.requests], [kind, 5]);
      assert.ok(result.cpuMsPerRequest > 0 && Number.isFinite(result.cpuMsPerRequest), JSON.stringify(result));
      const answered = emulator.ctx.requests.log.filter((entry) => entry.route === ROUTES[kind]);
      // Two warm-up requests come before the five measured ones.
      assert.equal(answered.length, 7, JSON.stringify(answered.map((entry) => [entry.route, entry.status])));
      assert.ok(answered.every((entry) => entry.status < 300), JSON.stringify(answered.map((entry) => entry.status)));
      assert.equal(emulator.ctx.requests.log.filter((entry) => entry.status === 429).length, 0);
    });
  }

  it('sends its bursts one after the other, and gives one median per kind', async () => {
    const costs = await measureCallCosts(emulator, 1, 3, 2);
    assert.equal(costs.requests, 3);
    // The last kind's process, measured after the last reset: two warm-up requests, then two bursts of three.
    assert.equal(emulator.ctx.requests.log.filter((entry) => entry.route === 'devops.endpoints.create').length, 8);
    for (const kind of CALL_KINDS) assert.ok(costs[kind] > 0, `${kind}: ${costs[kind]}`);
  });
});
