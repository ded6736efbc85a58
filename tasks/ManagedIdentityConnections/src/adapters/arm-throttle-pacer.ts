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
// "Last" and "since" are counted in requests, not in answers: answers come back in any order (many requests share
// one HTTP/2 connection, and ARM takes its time per request), and an older answer carries an older, higher count.
// Each request gets a sequence number when it leaves; an answer's count is used only if it is newer than the one
// the estimate rests on, and then less every request that left after it.
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
  /** Tokens free for new requests at `estimatedAt`, from ARM's newest report; undefined until ARM reported one. */
  estimate: number | undefined;
  estimatedAt: number;
  /** Requests let out so far: the sequence number of the latest. */
  sent: number;
  /** The sequence number of the request whose answer the estimate rests on. */
  reportedSequence: number;
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

  /**
   * Resolves when a request of this bucket may go out, with its sequence number in the bucket; pass that to
   * settle() with what the answer reported.
   */
  acquire(key: string, operation: ArmOperation): Promise<number> {
    const bucket = this.bucket(key);
    const turn = bucket.queue.then(() => this.waitForToken(bucket, operation));
    bucket.queue = turn.then(() => undefined);
    return turn;
  }

  /**
   * After the answer: update the estimate from what ARM reported for request `sequence` (without one, the request
   * counts as the latest). A failure without an answer reports nothing.
   */
  settle(key: string, observation: PacerObservation = {}, sequence?: number): void {
    const bucket = this.bucket(key);
    const now = this.clock.now();
    if (observation.retryAfterMs !== undefined) bucket.blockedUntil = Math.max(bucket.blockedUntil, now + observation.retryAfterMs);
    const remaining = observation.remaining ?? (observation.retryAfterMs !== undefined ? 0 : undefined);
    const reported = sequence ?? bucket.sent;
    // An answer older than the one the estimate rests on says less: it was counted before more requests arrived.
    if (remaining === undefined || reported <= bucket.reportedSequence) return;
    // Every request that left after this one may have taken a token since; counting them all errs on the side of
    // one wait too many (some may have arrived before it) rather than one 429 too many.
    bucket.estimate = remaining - (bucket.sent - reported);
    bucket.estimatedAt = now;
    bucket.reportedSequence = reported;
  }

  private async waitForToken(bucket: Bucket, operation: ArmOperation): Promise<number> {
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
        bucket.sent += 1;
        return bucket.sent;
      }
      const waitMs = Math.max(blockedMs, available >= 1 ? 0 : Math.ceil((1 - available) / refillPerMs));
      await this.clock.sleep(waitMs);
    }
  }

  private bucket(key: string): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { estimate: undefined, estimatedAt: 0, sent: 0, reportedSequence: 0, blockedUntil: 0, queue: Promise.resolve() };
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
      const sequence = await pacer.acquire(bucket.key, bucket.operation);
      const response = await inner.sendRequest(request);
      pacer.settle(bucket.key, observationOf(response, bucket, pacer.now()), sequence);
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
