// ARM throttles each subscription's writes with a token bucket (200, refilled 10 per second). A run with hundreds
// of writes cannot beat (writes − 200) / 10 seconds; what it can avoid is spending that time in 429s. These tests
// drive the pacer with a virtual clock against the emulator's own bucket model: hundreds of parallel workers,
// each retrying a 429 after its Retry-After as ServiceCalls does, with and without the pacer.
import * as assert from 'node:assert/strict';
import { ArmThrottlePacer, armBucketOf, pacedArmHttpClient, type PacedRequest, type PacedResponse } from '../../tasks/ManagedIdentityConnections/src/adapters/arm-throttle-pacer';
import { TokenBuckets } from '../emulator/kernel/throttle';
import { VirtualClock } from '../helpers/virtual-clock';

const ARM = 'https://management.example/';
const SUBSCRIPTION = '22222222-0000-4000-8000-000000000001';
const WRITES = { capacity: 200, refillPerSecond: 10 };

class Headers {
  constructor(private readonly values: Record<string, string>) {}
  get(name: string): string | undefined {
    return this.values[name.toLowerCase()];
  }
}

/**
 * ARM as the emulator models it: one bucket per subscription and operation, a fixed way there. The way back is
 * fixed too, or `answerDelayMs(n)` for the n-th request: then answers come back in another order than the
 * requests arrived (one HTTP/2 connection, ARM taking its time per request), older counts after newer ones.
 */
function simulatedArm(clock: VirtualClock, latencyMs: number, answerDelayMs?: (request: number) => number) {
  const buckets = new TokenBuckets();
  const counts = { requests: 0, throttled: 0 };
  return {
    counts,
    async sendRequest(request: PacedRequest): Promise<PacedResponse> {
      counts.requests += 1;
      const number = counts.requests;
      await clock.sleep(latencyMs / 2);
      const bucket = armBucketOf(request.method, new URL(request.url).pathname);
      const taken = buckets.take(bucket.key, WRITES, clock.now());
      await clock.sleep(answerDelayMs ? answerDelayMs(number) : latencyMs / 2);
      const header = `x-ms-ratelimit-remaining-subscription-${bucket.operation}`;
      if (!taken.allowed) {
        counts.throttled += 1;
        return { status: 429, headers: new Headers({ [header]: '0', 'retry-after': String(taken.retryAfterSeconds) }) };
      }
      return { status: 200, headers: new Headers({ [header]: String(taken.remaining) }) };
    },
  };
}

/** `writes` PUTs by `workers` parallel workers; a 429 is retried after its Retry-After, as ServiceCalls does. */
async function runWrites(clock: VirtualClock, client: { sendRequest(request: PacedRequest): Promise<PacedResponse> }, writes: number, workers: number): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < writes) {
      const index = next++;
      const request = { method: 'PUT', url: `${ARM}subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-${index}` };
      for (;;) {
        const response = await client.sendRequest(request);
        if (response.status !== 429) break;
        await clock.sleep(Number(response.headers.get('retry-after')) * 1000);
      }
    }
  };
  await clock.run(Promise.all(Array.from({ length: workers }, worker)));
  return clock.now();
}

describe('the ARM throttle pacer', () => {
  const boundMs = ((800 - WRITES.capacity) / WRITES.refillPerSecond) * 1000;

  it('keeps 800 parallel writes in one subscription within 1.05 × the throttle bound, with at most 10 % answered 429', async () => {
    const clock = new VirtualClock();
    const arm = simulatedArm(clock, 50);
    const elapsedMs = await runWrites(clock, pacedArmHttpClient(arm, ARM, new ArmThrottlePacer(clock)), 800, 64);
    assert.ok(elapsedMs <= boundMs * 1.05, `took ${elapsedMs} ms; bound ${boundMs} ms`);
    assert.ok(arm.counts.throttled / arm.counts.requests <= 0.1, `${arm.counts.throttled} of ${arm.counts.requests} requests throttled`);
  });

  it('stays within the bound with as few 429s when answers come back out of order (an older, higher count last)', async () => {
    const clock = new VirtualClock();
    // Answers take 5 to 200 ms back, scattered: a request that arrived early may be answered after later ones.
    const arm = simulatedArm(clock, 50, (request) => 5 + ((request * 7919) % 196));
    const elapsedMs = await runWrites(clock, pacedArmHttpClient(arm, ARM, new ArmThrottlePacer(clock)), 800, 64);
    assert.ok(elapsedMs <= boundMs * 1.05, `took ${elapsedMs} ms; bound ${boundMs} ms`);
    assert.ok(arm.counts.throttled / arm.counts.requests <= 0.02, `${arm.counts.throttled} of ${arm.counts.requests} requests throttled`);
  });

  it('is what makes the difference: without it most requests after the first 200 meet a 429', async () => {
    const clock = new VirtualClock();
    const arm = simulatedArm(clock, 50);
    await runWrites(clock, arm, 800, 64);
    assert.ok(arm.counts.throttled / arm.counts.requests > 0.3, `${arm.counts.throttled} of ${arm.counts.requests} throttled without pacing`);
  });

  it('holds nothing back before ARM reported a count, nor while the bucket has tokens', async () => {
    const clock = new VirtualClock();
    const arm = simulatedArm(clock, 50);
    const elapsedMs = await runWrites(clock, pacedArmHttpClient(arm, ARM, new ArmThrottlePacer(clock)), 150, 150);
    assert.equal(elapsedMs, 50);
    assert.equal(arm.counts.throttled, 0);
  });

  it('holds back every request of a bucket for a 429\'s Retry-After, not only the one that got it', async () => {
    const clock = new VirtualClock();
    const pacer = new ArmThrottlePacer(clock);
    const { key, operation } = armBucketOf('PUT', `/subscriptions/${SUBSCRIPTION}/x`);
    await pacer.acquire(key, operation);
    pacer.settle(key, { retryAfterMs: 3000 });
    const started: number[] = [];
    await clock.run(Promise.all([1, 2, 3].map(async () => {
      await pacer.acquire(key, operation);
      started.push(clock.now());
      pacer.settle(key, { remaining: 100 });
    })));
    assert.deepEqual(started, [3000, 3000, 3000]);
  });

  it('paces each subscription and operation type on its own, and passes other hosts straight through', async () => {
    assert.deepEqual(armBucketOf('GET', `/subscriptions/${SUBSCRIPTION.toUpperCase()}/resourceGroups/rg`), { key: `subscription|${SUBSCRIPTION}|reads`, operation: 'reads', level: 'subscription' });
    assert.equal(armBucketOf('DELETE', `/subscriptions/${SUBSCRIPTION}`).key, `subscription|${SUBSCRIPTION}|deletes`);
    assert.equal(armBucketOf('POST', '/providers/Microsoft.Authorization/roleDefinitions').key, 'tenant|writes');
    const clock = new VirtualClock();
    const pacer = new ArmThrottlePacer(clock);
    const { key, operation } = armBucketOf('PUT', `/subscriptions/${SUBSCRIPTION}/x`);
    await pacer.acquire(key, operation);
    pacer.settle(key, { remaining: 0 });
    let sentToEntra = 0;
    const client = pacedArmHttpClient({ sendRequest: async () => ({ status: 200, headers: new Headers({}) }) }, ARM, pacer);
    await client.sendRequest({ method: 'POST', url: 'https://login.example/tenant/oauth2/v2.0/token' }).then(() => (sentToEntra += 1));
    assert.equal(sentToEntra, 1, 'a request to another host waited for the ARM bucket');
  });
});
