// The bench's https floor measures a real client against the emulator: every request answered, no more
// connections than requests in flight, and its own CPU time — never more than its wall time allows on the
// cores this machine has.
import * as assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { measureHttpsFloor } from '../../scripts/lib/https-floor';
import type { RunningEmulator } from '../emulator/emulator';
import { jsonLine } from '../emulator/json-line';
import { startTestEmulator } from '../helpers/emulator';

describe('the bench\'s https floor', function () {
  this.timeout(20_000);
  let emulator: RunningEmulator;
  before(async () => (emulator = await startTestEmulator()));
  after(() => emulator.close());

  it('makes the requests against the emulator, at most `concurrency` at a time, and reports wall and CPU time', async () => {
    const info = jsonLine(emulator);
    const before = emulator.ctx.requests.log.length;
    emulator.ctx.faults.set([{ id: 'latency', latencyMs: 30 }]);
    try {
      const floor = await measureHttpsFloor(`${info.armEndpoint.replace(/\/$/, '')}/subscriptions?api-version=2022-12-01`, 12, 4, info.caFile);
      assert.equal(emulator.ctx.requests.log.length - before, 12);
      assert.deepEqual([floor.requests, floor.concurrency], [12, 4]);
      assert.ok(floor.connections >= 1 && floor.connections <= 4, `connections ${floor.connections}`);
      // Three waves of four requests, each held 30 ms by the emulator.
      assert.ok(floor.wallMs >= 90, `wall ${floor.wallMs} ms`);
      assert.ok(floor.cpuMs > 0 && floor.cpuMs <= floor.wallMs * cpus().length + 50, `cpu ${floor.cpuMs} ms`);
    } finally {
      emulator.ctx.faults.set([]);
    }
  });
});
