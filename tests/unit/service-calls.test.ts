// ServiceCalls is the one retry and translation policy of every adapter. This suite protects one rule the
// adapters depend on: an error that is already a TaskError — an adapter's own check inside an operation
// (MIC407 for a connection without issuer), or a credential that explains its failure (the CLI's MIC603) —
// reaches the core as it is, once, instead of being retried or rewrapped as an unexpected answer (MIC604).
import * as assert from 'node:assert/strict';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import { FakePlatform } from '../fakes/fake-platform';
import { VirtualClock } from '../helpers/virtual-clock';

/** An operation that answers `code` until the clock reaches `readyAtMs` (a write replicating), then succeeds. */
function replicatingUntil(clock: VirtualClock, readyAtMs: number, code = 'PropagationPending') {
  const attempts: number[] = [];
  return {
    attempts,
    operation: async () => {
      attempts.push(clock.now());
      await clock.sleep(100); // the round trip
      if (clock.now() < readyAtMs) throw Object.assign(new Error('still replicating'), { code });
      return clock.now();
    },
  };
}

describe('ServiceCalls', () => {
  it('passes a TaskError thrown by the operation through unchanged, without retrying', async () => {
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 10_000, initialDelayMs: 1, maxDelayMs: 1 });
    const original = new TaskError('MIC407', 'Service connection app-dev has no workload identity federation issuer or subject.');
    let attempts = 0;
    await assert.rejects(
      calls.run({
        what: 'create service connection app-dev',
        operation: () => {
          attempts += 1;
          return Promise.reject(original);
        },
      }),
      (error) => error === original,
    );
    assert.equal(attempts, 1);
  });

  it('still translates what a service threw', async () => {
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 10_000, initialDelayMs: 1, maxDelayMs: 1 });
    const refused = Object.assign(new Error('Forbidden'), { name: 'RestError', statusCode: 403, code: 'AuthorizationFailed' });
    await assert.rejects(
      calls.run({ what: 'create identity id-dev', operation: () => Promise.reject(refused) }),
      (error: TaskError) => error.code === 'MIC304' && /create identity id-dev failed: HTTP 403 AuthorizationFailed/.test(error.message),
    );
  });

  describe('waiting for a write to replicate (pollCodes)', () => {
    it('polls at about a second, so the call ends within ~1.3 s of the moment the write became visible', async () => {
      const clock = new VirtualClock();
      const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 300_000, clock });
      const replicating = replicatingUntil(clock, 20_000);
      const doneAt = await clock.run(calls.run({ what: 'verify service connection app-dev', operation: replicating.operation, pollCodes: ['PropagationPending'] }));
      assert.ok(doneAt >= 20_000 && doneAt <= 21_350, `done at ${doneAt} ms`);
      const gaps = replicating.attempts.slice(1).map((at, index) => at - replicating.attempts[index]! - 100);
      assert.ok(gaps.every((gap) => gap >= 750 && gap <= 1250), `waits ${gaps.join(', ')}`);
    });

    it('backs off exponentially for the same code named as a retry code (what polling replaced: up to 30 s late)', async () => {
      const clock = new VirtualClock();
      const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 300_000, clock });
      const doneAt = await clock.run(calls.run({ what: 'verify', operation: replicatingUntil(clock, 20_000).operation, retryCodes: ['PropagationPending'] }));
      assert.ok(doneAt > 22_000, `done at ${doneAt} ms`);
    });

    it('stretches the interval when more calls poll at once than maxPollsPerSecond allows together', async () => {
      const clock = new VirtualClock();
      const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 300_000, clock, maxPollsPerSecond: 20 });
      const pollers = Array.from({ length: 100 }, () => replicatingUntil(clock, 30_000));
      await clock.run(Promise.all(pollers.map((poller) => calls.run({ what: 'verify', operation: poller.operation, pollCodes: ['PropagationPending'] }))));
      const attempts = pollers.flatMap((poller) => poller.attempts).filter((at) => at >= 5_000 && at < 25_000);
      const perSecond = attempts.length / 20;
      assert.ok(perSecond <= 25 && perSecond >= 10, `${perSecond} polls per second`);
    });

    it('still gives up at the deadline, with the last answer', async () => {
      const clock = new VirtualClock();
      const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 10_000, clock });
      await assert.rejects(clock.run(calls.run({ what: 'verify', operation: replicatingUntil(clock, 60_000).operation, pollCodes: ['PropagationPending'] })), /still replicating/);
      assert.ok(clock.now() <= 10_000 + 100, `gave up at ${clock.now()} ms`);
    });
  });
});
