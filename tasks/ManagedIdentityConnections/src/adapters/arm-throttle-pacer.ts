// Client-side pacing of Azure Resource Manager requests from what ARM says is left in its throttling buckets.
//
// ARM throttles with token buckets per subscription × principal × operation type (writes: 200, refilled 10 per
// second; reads: 250 and 25/s; deletes: 200 and 10/s) and reports what is left on every answer in
// `x-ms-ratelimit-remaining-{subscription|tenant}-{reads|writes|deletes}` (Microsoft Learn, "Understand how
// Azure Resource Manager throttles requests"). Without pacing, a large run fires every write at once, empties the
// bucket and then meets a wall of 429s: each parallel worker sleeps out its own Retry-After and wakes up with
// the others, so most requests after the first 200 are answered 429 at least once. With pacing, every worker in
// this process shares one estimate per bucket: the last remaining count ARM reported, minus what was sent since,
// plus the documented refill. A request that would find the bucket empty waits here for its token instead, in
// arrival order, and a 429's Retry-After holds back every request of that bucket, not only the one that got it.
//
// The refill rates are ARM's documented defaults. If a cloud refills slower, requests get a 429 now and then
// and the retry policy (ServiceCalls) handles it as before; if faster, the run is a little slower than it could
// be. Nothing waits before ARM has reported a count: the first burst is as fast as without pacing.

import { parseRetryAfter, systemClock } from '../retry';

export type ArmOperation = 'reads' | 'writes' | 'deletes';

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Documented refills per second of ARM's per-principal buckets (same numbers at subscription and tenant level). */
export const armRefillPerSecond: Readonly<Record<ArmOperation, number>> = { reads: 25, writes: 10, deletes: 10 };

interface Bucket {
  /** Tokens free for new requests at `estimatedAt`, from ARM's last report; undefined until ARM reported one. */
  estimate: number | undefined;
  estimatedAt: number;
  inFlight: number;
  blockedUntil: number;
  /** Requests waiting for a token queue behind each other, so tokens go out in arrival order. */
  queue: Promise<void>;
}

export interface PacerObservation {
  /** The `x-ms-ratelimit-remaining-*` count of this bucket in the answer, when it had one. */
  readonly remaining?: number;
  /** An answer 429's Retry-After, in ms. */
  readonly retryAfterMs?: number;
}

export class ArmThrottlePacer {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: PacerClock = systemClock,
    private readonly refillPerSecond: Readonly<Record<ArmOperation, number>> = armRefillPerSecond,
  ) {}

  now(): number {
    return this.clock.now();
  }

  /** Resolves when a request of this bucket may go out; the caller must call settle() once it is answered. */
  acquire(key: string, operation: ArmOperation): Promise<void> {
    const bucket = this.bucket(key);
    const turn = bucket.queue.then(() => this.waitForToken(bucket, operation));
    bucket.queue = turn;
    return turn;
  }

  /** After the answer (or a failure without one): update the estimate from what ARM reported. */
  settle(key: string, observation: PacerObservation = {}): void {
    const bucket = this.bucket(key);
    bucket.inFlight = Math.max(0, bucket.inFlight - 1);
    const now = this.clock.now();
    if (observation.retryAfterMs !== undefined) bucket.blockedUntil = Math.max(bucket.blockedUntil, now + observation.retryAfterMs);
    if (observation.remaining !== undefined) {
      // Requests still in flight were sent against this count but may not be in it yet: counting them as taken
      // errs on the side of one wait too many rather than one 429 too many.
      bucket.estimate = observation.remaining - bucket.inFlight;
      bucket.estimatedAt = now;
    } else if (observation.retryAfterMs !== undefined) {
      bucket.estimate = -bucket.inFlight;
      bucket.estimatedAt = now;
    }
  }

  private async waitForToken(bucket: Bucket, operation: ArmOperation): Promise<void> {
    const refillPerMs = this.refillPerSecond[operation] / 1000;
    for (;;) {
      const now = this.clock.now();
      const blockedMs = bucket.blockedUntil - now;
      const available = bucket.estimate === undefined ? Infinity : bucket.estimate + (now - bucket.estimatedAt) * refillPerMs;
      if (blockedMs <= 0 && available >= 1) {
        if (bucket.estimate !== undefined) {
          bucket.estimate = available - 1;
          bucket.estimatedAt = now;
        }
        bucket.inFlight += 1;
        return;
      }
      const waitMs = Math.max(blockedMs, available >= 1 ? 0 : Math.ceil((1 - available) / refillPerMs));
      await this.clock.sleep(waitMs);
    }
  }

  private bucket(key: string): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { estimate: undefined, estimatedAt: 0, inFlight: 0, blockedUntil: 0, queue: Promise.resolve() };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}

export interface PacedRequest {
  readonly method: string;
  readonly url: string;
}
export interface PacedResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | undefined };
}

/**
 * Wraps an HTTP client so that its requests to `armEndpoint` go out as the pacer allows; requests to any other
 * host (Entra ID's token endpoint) pass straight through.
 */
export function pacedArmHttpClient<Req extends PacedRequest, Res extends PacedResponse>(
  inner: { sendRequest(request: Req): Promise<Res> },
  armEndpoint: string,
  pacer: ArmThrottlePacer,
): { sendRequest(request: Req): Promise<Res> } {
  const armHost = new URL(armEndpoint).host.toLowerCase();
  return {
    async sendRequest(request) {
      const url = new URL(request.url);
      if (url.host.toLowerCase() !== armHost) return inner.sendRequest(request);
      const bucket = armBucketOf(request.method, url.pathname);
      await pacer.acquire(bucket.key, bucket.operation);
      let response: Res;
      try {
        response = await inner.sendRequest(request);
      } catch (error) {
        pacer.settle(bucket.key);
        throw error;
      }
      pacer.settle(bucket.key, observationOf(response, bucket, pacer.now()));
      return response;
    },
  };
}

/** The bucket's remaining count (the lower of the principal's and the subscription's global one) and a 429's wait. */
function observationOf(response: PacedResponse, bucket: ReturnType<typeof armBucketOf>, now: number): PacerObservation {
  const counts = [`x-ms-ratelimit-remaining-${bucket.level}-${bucket.operation}`, `x-ms-ratelimit-remaining-${bucket.level}-global-${bucket.operation}`]
    .map((name) => response.headers.get(name))
    .filter((value): value is string => value !== undefined && /^\d+$/.test(value.trim()))
    .map(Number);
  const remaining = counts.length > 0 ? Math.min(...counts) : undefined;
  const retryAfterMs = response.status === 429 ? (parseRetryAfter(response.headers, now) ?? 1000) : undefined;
  return { ...(remaining === undefined ? {} : { remaining }), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

const SUBSCRIPTION_PATH = /^\/subscriptions\/([0-9a-f-]{36})(?:\/|$)/i;

/** Which of ARM's buckets a request draws from: `subscription|{id}` or `tenant`, and the operation type. */
export function armBucketOf(method: string, path: string): { key: string; operation: ArmOperation; level: 'subscription' | 'tenant' } {
  const upper = method.toUpperCase();
  const operation: ArmOperation = upper === 'GET' || upper === 'HEAD' ? 'reads' : upper === 'DELETE' ? 'deletes' : 'writes';
  const subscription = SUBSCRIPTION_PATH.exec(path)?.[1];
  return subscription === undefined
    ? { key: `tenant|${operation}`, operation, level: 'tenant' }
    : { key: `subscription|${subscription.toLowerCase()}|${operation}`, operation, level: 'subscription' };
}
