// ARM's token-bucket throttling (since 2024): one bucket per subscription × principal × operation type,
// each holding `capacity` tokens and refilled continuously at `refillPerSecond`. A request takes one token;
// an empty bucket answers 429 with Retry-After until a token is back.

export interface BucketSettings {
  capacity: number;
  refillPerSecond: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this request (what `x-ms-ratelimit-remaining-*` reports). */
  remaining: number;
  /** Seconds until one token is available, rounded up; 0 when allowed. */
  retryAfterSeconds: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  take(key: string, settings: BucketSettings, now = Date.now()): TakeResult {
    const bucket = this.buckets.get(key) ?? { tokens: settings.capacity, updatedAt: now };
    const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(settings.capacity, bucket.tokens + elapsedSeconds * settings.refillPerSecond);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    const wait = settings.refillPerSecond > 0 ? (1 - bucket.tokens) / settings.refillPerSecond : 3600;
    return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
  }

  clear(): void {
    this.buckets.clear();
  }
}
