// Retry with backoff, for the adapters. Azure's own pipeline retries only throttling that carries Retry-After
// and 5xx/socket errors, never 400/404/409, yet provisioning meets several errors that are transient for us:
// PrincipalNotFound right after an identity is created, 409 on concurrent federated credential writes, AADSTS70021
// while a new credential replicates. Adapters say which errors are worth another try (classify); this module
// decides when: exponential backoff with jitter, capped, honouring a server's Retry-After, within one overall
// deadline (propagationTimeoutSeconds). Clock, sleep and randomness are injected so tests run instantly.
// An AbortSignal ends the loop at once, its wait included: once the task has its result, nothing may keep
// retrying in the background (the process would outlive task.complete by minutes).
import { setTimeout as delay } from 'node:timers/promises';
import { followRun } from './run-cancellation';

export interface RetryDecision {
  readonly retry: boolean;
  /** A delay the service asked for (Retry-After); used as is instead of the backoff. */
  readonly delayMs?: number;
}

export interface RetryClock {
  now(): number;
  /** Rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** In [0, 1). */
  random(): number;
}

export interface RetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Give up rather than start a wait that would end after this long since the first attempt. */
  readonly deadlineMs: number;
  readonly maxAttempts?: number;
}

export type GiveUpReason = 'notRetryable' | 'deadline' | 'attempts';

export interface RetryInfo {
  /** 1-based number of the attempt that just failed. */
  readonly attempt: number;
  readonly elapsedMs: number;
}

export interface RetryOptions {
  readonly policy: RetryPolicy;
  classify(error: unknown, attempt: number): RetryDecision;
  readonly clock?: RetryClock;
  /** Cancels the loop: no further attempt or wait; the signal's reason is thrown. */
  readonly signal?: AbortSignal;
  /** Before each wait: a debug line, typically. */
  onRetry?(error: unknown, info: RetryInfo & { readonly delayMs: number }): void;
  /** What to throw when giving up (default: the last error), e.g. a TaskError saying how long it tried. */
  giveUp?(error: unknown, info: RetryInfo & { readonly reason: GiveUpReason }): unknown;
}

export const systemClock: RetryClock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    if (!signal) return delay(ms);
    // Through a call that follows the run: many waits at once would each be a listener on the run's signal.
    const call = followRun(signal);
    try {
      await delay(ms, undefined, { signal: call.signal });
    } catch (error) {
      throw signal.aborted ? signal.reason : error;
    } finally {
      call.done();
    }
  },
  random: () => Math.random(),
};

export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  const { policy } = options;
  const started = clock.now();
  const { signal } = options;
  for (let attempt = 1; ; attempt += 1) {
    signal?.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const elapsedMs = clock.now() - started;
      const decision = options.classify(error, attempt);
      const delayMs = decision.delayMs ?? backoffDelay(attempt, policy, clock.random());
      let reason: GiveUpReason | undefined;
      if (!decision.retry) reason = 'notRetryable';
      else if (policy.maxAttempts !== undefined && attempt >= policy.maxAttempts) reason = 'attempts';
      else if (elapsedMs + delayMs > policy.deadlineMs) reason = 'deadline';
      if (reason !== undefined) throw options.giveUp ? options.giveUp(error, { attempt, elapsedMs, reason }) : error;
      options.onRetry?.(error, { attempt, elapsedMs, delayMs });
      await clock.sleep(delayMs, signal);
    }
  }
}

/**
 * The wait after a failed attempt: initial · 2^(attempt−1), capped at maxDelayMs, then "equal jitter" — a
 * random point in the upper half — so that parallel environments that failed together do not retry together.
 */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>, random: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random * ceiling) / 2);
}

export type HeaderSource = { get(name: string): string | null | undefined } | Readonly<Record<string, string | undefined>>;

/**
 * The delay a response asks for, in ms: `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds, Azure), or
 * `Retry-After` as seconds or as an HTTP date. undefined when absent or unreadable.
 */
export function parseRetryAfter(headers: HeaderSource, nowMs: number): number | undefined {
  const read = (name: string): string | undefined => {
    if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(name: string): string | null | undefined }).get(name) ?? undefined;
    const record = headers as Readonly<Record<string, string | undefined>>;
    const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
    return key === undefined ? undefined : record[key];
  };
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = read(name)?.trim();
    if (value && /^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value));
  }
  const value = read('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** What an adapter knows about a failed HTTP call, SDK-independent. */
export interface HttpFailure {
  readonly statusCode?: number;
  /** Service error code (ARM `error.code`) or Node network code (ECONNRESET…). */
  readonly code?: string;
  readonly retryAfterMs?: number;
}

const transientStatuses = new Set([408, 429, 500, 502, 503, 504]);
/** Node and undici codes of a connection that failed or dropped: worth another try whatever the call. */
export const networkErrorCodes: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Default classification: throttling, server errors and network failures are worth retrying, plus any service
 * error code the caller names (e.g. PrincipalNotFound, ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity).
 */
export function classifyHttpFailure(failure: HttpFailure, retryableCodes: readonly string[] = []): RetryDecision {
  const retryable =
    (failure.statusCode !== undefined && transientStatuses.has(failure.statusCode)) ||
    (failure.code !== undefined && (networkErrorCodes.has(failure.code) || retryableCodes.some((code) => code.toLowerCase() === failure.code!.toLowerCase())));
  if (!retryable) return { retry: false };
  return failure.retryAfterMs === undefined ? { retry: true } : { retry: true, delayMs: failure.retryAfterMs };
}
