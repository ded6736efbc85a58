// ServiceCalls is the one retry and translation policy of every adapter. This suite protects one rule the
// adapters depend on: an error that is already a TaskError — an adapter's own check inside an operation
// (MIC407 for a connection without issuer), or a credential that explains its failure (the CLI's MIC603) —
// reaches the core as it is, once, instead of being retried or rewrapped as an unexpected answer (MIC604).
import * as assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import type { TokenCredential } from '@azure/core-auth';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { explainedSignInFailures } from '../../tasks/ManagedIdentityConnections/src/composition';
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

  describe('a sign-in that fails (explainedSignInFailures)', () => {
    const remediation = 'Check the bootstrap service connection.';
    const readSubscription = (credential: TokenCredential, calls: ServiceCalls) =>
      calls.run({ what: 'read subscription 2222', operation: async () => (await credential.getToken('https://management.azure.com/.default'))!.token });

    it('is the sign-in\'s MIC603 with its remediation, not the call\'s MIC604, and is not retried', async () => {
      const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 10_000, initialDelayMs: 1, maxDelayMs: 1 });
      let attempts = 0;
      const rejected = Object.assign(new Error('invalid_client'), { name: 'AuthenticationError', statusCode: 400, errorResponse: { error: 'invalid_client', errorDescription: 'AADSTS700211: No matching federated identity record found for presented assertion issuer.' } });
      const credential = explainedSignInFailures({ getToken: () => (attempts++, Promise.reject(rejected)) }, 'Bootstrap connection bootstrap', remediation);
      await assert.rejects(readSubscription(credential, calls), (error: TaskError) => {
        assert.equal(error.code, 'MIC603');
        assert.match(error.message, /^Bootstrap connection bootstrap could not get a token for https:\/\/management\.azure\.com\/\.default: .*AADSTS700211/);
        assert.equal(error.remediation, remediation);
        return true;
      });
      assert.equal(attempts, 1);
    });

    it('passes a transient failure through, so the call retries it', async () => {
      const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 10_000, initialDelayMs: 1, maxDelayMs: 1 });
      let attempts = 0;
      const unavailable = Object.assign(new Error('Service Unavailable'), { name: 'AuthenticationError', statusCode: 503, errorResponse: { error: 'temporarily_unavailable', errorDescription: 'AADSTS90033: A transient error has occurred.' } });
      const credential = explainedSignInFailures(
        { getToken: () => (++attempts < 3 ? Promise.reject(unavailable) : Promise.resolve({ token: 'ok', expiresOnTimestamp: Date.now() + 3_600_000 })) },
        'Bootstrap connection bootstrap',
        remediation,
      );
      assert.equal(await readSubscription(credential, calls), 'ok');
      assert.equal(attempts, 3);
    });
  });
});

// Cancellation and timeouts (tasks/.../adapters/service-calls.ts): once the task has its result nothing may
// keep retrying, and no single attempt may hang past its timeout — it counts as a dropped connection.
describe('ServiceCalls: cancellation and the per-attempt timeout', () => {
  const never = () => new Promise<never>(() => undefined);

  it('gives up an attempt without an answer after requestTimeoutMs, as a network failure it retries (MIC602 at the deadline)', async () => {
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 150, requestTimeoutMs: 1_000_000, initialDelayMs: 1, maxDelayMs: 1 });
    let attempts = 0;
    const signals: AbortSignal[] = [];
    // The timeout is never beyond the deadline (150 ms here), but at least a second: the message names the one
    // it used (a wall-clock bound would fail whenever this shared machine stalls the event loop), and with the
    // requested 1,000,000 ms the call would not end within mocha's timeout.
    await assert.rejects(
      calls.run({
        what: 'create identity id-dev',
        operation: (_, signal) => {
          attempts += 1;
          signals.push(signal);
          return never();
        },
      }),
      (error: TaskError) => error.code === 'MIC602' && /no answer within 1 s/.test(error.message),
    );
    assert.equal(attempts, 1);
    assert.ok(signals[0]!.aborted, 'the operation was told to stop');
  });

  it('ends at once, with the signal\'s reason, when the run is cancelled: no further attempt, no wait', async () => {
    const controller = new AbortController();
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 300_000, initialDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal });
    const reason = new TaskError('MIC606', 'The task already has its result.');
    let attempts = 0;
    const failing = calls.run({
      what: 'read identity id-prod',
      operation: () => {
        attempts += 1;
        return Promise.reject(Object.assign(new Error('Service Unavailable'), { name: 'RestError', statusCode: 503 }));
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 20)); // now in its 60 s wait
    const started = Date.now();
    controller.abort(reason);
    await assert.rejects(failing, (error) => error === reason);
    assert.ok(Date.now() - started < 1_000);
    assert.equal(attempts, 1);
  });

  it('adds one listener to the run\'s signal however many calls are in flight or waiting (Node warns past ten)', async () => {
    const controller = new AbortController();
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 300_000, initialDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal });
    const inFlight = Array.from({ length: 20 }, (_, index) => calls.run({ what: `create identity id-${index}`, operation: never }));
    const waiting = Array.from({ length: 20 }, (_, index) =>
      calls.run({ what: `read identity id-${index}`, operation: () => Promise.reject(Object.assign(new Error('Service Unavailable'), { name: 'RestError', statusCode: 503 })) }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20)); // the second twenty are in their 60 s wait
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    const reason = new TaskError('MIC606', 'The task already has its result.');
    controller.abort(reason);
    for (const call of [...inFlight, ...waiting]) await assert.rejects(call, (error) => error === reason);
  });

  it('abandons the attempt in flight when the run is cancelled', async () => {
    const controller = new AbortController();
    const calls = new ServiceCalls({ platform: new FakePlatform(), deadlineMs: 300_000, signal: controller.signal });
    let seen: AbortSignal | undefined;
    const hanging = calls.run({
      what: 'verify service connection app-dev',
      operation: (_, signal) => {
        seen = signal;
        return never();
      },
    });
    const reason = new TaskError('MIC606', 'The agent stopped the task (SIGINT).');
    controller.abort(reason);
    await assert.rejects(hanging, (error) => error === reason);
    assert.equal(seen?.aborted, true);
  });
});
