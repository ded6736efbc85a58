// The adapters lean on retry() to ride out throttling and Entra/ARM replication without hammering the services
// or waiting past the propagation timeout. This suite protects the schedule (exponential, jittered, capped),
// that a server's Retry-After wins, that the overall deadline is never overrun, and that errors not worth a
// retry fail at once. The clock is fake, so a five-minute schedule runs in microseconds.
import * as assert from 'node:assert/strict';
import { backoffDelay, classifyHttpFailure, parseRetryAfter, retry, type RetryClock, type RetryOptions } from '../../tasks/ManagedIdentityConnections/src/retry';

class FakeClock implements RetryClock {
  time = 0;
  readonly sleeps: number[] = [];
  constructor(private readonly randomValue = 0.5) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
  }
  random(): number {
    return this.randomValue;
  }
}

function failing(times: number, error: unknown = new Error('transient')): { operation: () => Promise<string>; attempts: () => number } {
  let attempts = 0;
  return {
    operation: async () => {
      attempts += 1;
      if (attempts <= times) throw error;
      return 'done';
    },
    attempts: () => attempts,
  };
}

const policy = { initialDelayMs: 1000, maxDelayMs: 8000, deadlineMs: 60_000 };

function options(clock: FakeClock, overrides: Partial<RetryOptions> = {}): RetryOptions {
  return { policy, classify: () => ({ retry: true }), clock, ...overrides };
}

describe('retry', () => {
  it('returns the first success after retrying transient failures', async () => {
    const clock = new FakeClock();
    const { operation, attempts } = failing(3);
    assert.equal(await retry(operation, options(clock)), 'done');
    assert.equal(attempts(), 4);
  });

  it('backs off exponentially up to the cap, jittered into the upper half', async () => {
    const clock = new FakeClock(1); // the top of the jitter range
    await retry(failing(5).operation, options(clock));
    assert.deepEqual(clock.sleeps, [1000, 2000, 4000, 8000, 8000]);
    const low = new FakeClock(0);
    await retry(failing(3).operation, options(low));
    assert.deepEqual(low.sleeps, [500, 1000, 2000]);
  });

  it('waits exactly what the service asked for with Retry-After', async () => {
    const clock = new FakeClock();
    await retry(failing(2).operation, options(clock, { classify: () => ({ retry: true, delayMs: 7000 }) }));
    assert.deepEqual(clock.sleeps, [7000, 7000]);
  });

  it('gives up rather than wait past the deadline, reporting why', async () => {
    const clock = new FakeClock(1);
    const reasons: string[] = [];
    const error = new Error('still propagating');
    await assert.rejects(
      retry(failing(100, error).operation, options(clock, { giveUp: (last, info) => (reasons.push(info.reason), last) })),
      (thrown) => thrown === error,
    );
    assert.ok(clock.time <= policy.deadlineMs, `${clock.time}`);
    assert.deepEqual(reasons, ['deadline']);
  });

  it('fails at once on an error that is not worth retrying', async () => {
    const clock = new FakeClock();
    const { operation, attempts } = failing(5);
    await assert.rejects(retry(operation, options(clock, { classify: () => ({ retry: false }) })), /transient/);
    assert.equal(attempts(), 1);
    assert.deepEqual(clock.sleeps, []);
  });

  it('stops after maxAttempts and lets the caller translate the last error', async () => {
    const clock = new FakeClock();
    const { operation, attempts } = failing(10);
    await assert.rejects(
      retry(operation, options(clock, { policy: { ...policy, maxAttempts: 3 }, giveUp: (_, info) => new Error(`gave up after ${info.attempt} (${info.reason})`) })),
      /gave up after 3 \(attempts\)/,
    );
    assert.equal(attempts(), 3);
  });

  it('tells the caller before each wait', async () => {
    const clock = new FakeClock(0);
    const seen: number[] = [];
    await retry(failing(2).operation, options(clock, { onRetry: (_, info) => seen.push(info.delayMs) }));
    assert.deepEqual(seen, clock.sleeps);
  });

  it('computes delays without a clock', () => {
    assert.equal(backoffDelay(1, policy, 0), 500);
    assert.equal(backoffDelay(10, policy, 1), 8000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-26T10:00:00Z');
  it('reads milliseconds headers first, then Retry-After seconds or date', () => {
    assert.equal(parseRetryAfter({ 'Retry-After-Ms': '250', 'retry-after': '9' }, now), 250);
    assert.equal(parseRetryAfter({ 'x-ms-retry-after-ms': '1500' }, now), 1500);
    assert.equal(parseRetryAfter({ 'Retry-After': '3' }, now), 3000);
    assert.equal(parseRetryAfter({ 'retry-after': 'Thu, 26 Nov 2026 10:00:05 GMT' }, now), 5000);
    assert.equal(parseRetryAfter(new Map([['retry-after', '2']]), now), 2000);
  });

  it('ignores absent or unreadable values', () => {
    assert.equal(parseRetryAfter({}, now), undefined);
    assert.equal(parseRetryAfter({ 'retry-after': 'soon' }, now), undefined);
  });
});

describe('classifyHttpFailure', () => {
  it('retries throttling, server errors and network failures, with the service\'s delay', () => {
    assert.deepEqual(classifyHttpFailure({ statusCode: 429, retryAfterMs: 2000 }), { retry: true, delayMs: 2000 });
    assert.deepEqual(classifyHttpFailure({ statusCode: 503 }), { retry: true });
    assert.deepEqual(classifyHttpFailure({ code: 'ECONNRESET' }), { retry: true });
  });

  it('retries the service codes the caller names, and nothing else', () => {
    assert.deepEqual(classifyHttpFailure({ statusCode: 400, code: 'PrincipalNotFound' }, ['PrincipalNotFound']), { retry: true });
    assert.deepEqual(classifyHttpFailure({ statusCode: 400, code: 'PrincipalNotFound' }), { retry: false });
    assert.deepEqual(classifyHttpFailure({ statusCode: 403, code: 'AuthorizationFailed' }, ['PrincipalNotFound']), { retry: false });
  });
});

describe('retry: cancellation', () => {
  it('starts no attempt once the signal has aborted, and ends a wait with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    let attempts = 0;
    const running = retry(
      () => {
        attempts += 1;
        return Promise.reject(new Error('transient'));
      },
      { policy: { initialDelayMs: 60_000, maxDelayMs: 60_000, deadlineMs: 600_000 }, classify: () => ({ retry: true }), signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(reason);
    await assert.rejects(running, (error) => error === reason);
    assert.equal(attempts, 1);
    await assert.rejects(
      retry(() => Promise.resolve(1), { policy: { initialDelayMs: 1, maxDelayMs: 1, deadlineMs: 1 }, classify: () => ({ retry: true }), signal: controller.signal }),
      (error) => error === reason,
    );
  });
});
