// The one place where calls to Azure, Entra ID and Azure DevOps are retried and their failures translated
// into TaskErrors with stable codes.
//
// The SDKs' own retry policies are switched off (maxRetries 0) so there is a single, visible policy: retry
// what is transient for any call (429 honouring Retry-After, 5xx, dropped connections) plus what is transient
// for this call only (PrincipalNotFound on a role assignment right after the identity was created; the 409
// Entra answers to concurrent federated credential writes), with backoff, until propagationTimeoutSeconds.
// Anything else fails at once, translated by the call's own rules first, then the common ones.
//
// Every attempt is bounded (requestTimeoutMs, never past the call's deadline): a request that gets no answer
// counts as a dropped connection (ETIMEDOUT) and is tried again. The run's signal cancels everything: no new
// attempt, no wait, and the attempt in flight is abandoned — its operation gets the signal to pass on.
//
// Waiting for replication is polling, not backing off: a credential or a principal becomes visible at one
// moment, and every second between that moment and the next attempt is a second the user waits for nothing.
// So the codes a call names as `pollCodes` are tried again at a short, fixed interval (jittered), however many
// attempts it takes; the interval stretches only when so many calls poll at once that together they would ask
// more than `maxPollsPerSecond` of the service.
import { isTaskError, TaskError, type ErrorCode } from '../errors';
import type { Platform } from '../ports/platform';
import { classifyHttpFailure, retry, systemClock, type RetryClock, type RetryPolicy } from '../retry';
import { followRun } from '../run-cancellation';
import { briefFailure, describeFailure, formatFailure, type ServiceFailure } from './service-failure';

export interface CallSettings {
  readonly platform: Platform;
  /** Overall deadline for one call's retries (propagationTimeoutSeconds). */
  readonly deadlineMs: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly clock?: RetryClock;
  /** Ends every call at once (the task has its result, or the agent cancelled it). */
  readonly signal?: AbortSignal;
  /** The longest one attempt may take (default defaultRequestTimeoutMs). */
  readonly requestTimeoutMs?: number;
  /** The interval between polls while a write replicates (default 1 s). */
  readonly pollIntervalMs?: number;
  /** What all polling calls together may ask per second (default 20); more pollers stretch the interval. */
  readonly maxPollsPerSecond?: number;
}

/** One attempt without an answer after this long is given up and retried (docs/architecture.md). */
export const defaultRequestTimeoutMs = 60_000;
/** However little of the deadline is left, an attempt gets at least this long. */
const minimumRequestTimeoutMs = 1_000;

export interface CallSpec<T> {
  /** What the call does, for messages: `create identity id-dev`. */
  readonly what: string;
  /** signal: aborted when this attempt times out or the run is cancelled; pass it to the client. */
  readonly operation: (attempt: number, signal: AbortSignal) => Promise<T>;
  /** Service error codes that are transient for this call (e.g. 429s' codes, concurrent writes): backoff. */
  readonly retryCodes?: readonly string[];
  /** Service error codes that mean "an earlier write is still replicating" (e.g. PrincipalNotFound): polled. */
  readonly pollCodes?: readonly string[];
  /** Call-specific translation of a final failure; undefined falls through to the common rules. */
  readonly translate?: (failure: ServiceFailure) => TaskError | undefined;
}

export class ServiceCalls {
  private readonly policy: RetryPolicy;
  private readonly clock: RetryClock;
  /** Calls waiting to poll again right now: together they share maxPollsPerSecond. */
  private polling = 0;

  constructor(private readonly settings: CallSettings) {
    this.policy = { initialDelayMs: settings.initialDelayMs ?? 1000, maxDelayMs: settings.maxDelayMs ?? 30_000, deadlineMs: settings.deadlineMs };
    this.clock = settings.clock ?? systemClock;
  }

  async run<T>(spec: CallSpec<T>): Promise<T> {
    const started = this.clock.now();
    let pollingNow = false;
    const setPolling = (value: boolean) => {
      if (value !== pollingNow) this.polling += value ? 1 : -1;
      pollingNow = value;
    };
    try {
      return await retry((attempt) => this.attempt(spec, attempt, started), {
        policy: this.policy,
        clock: this.clock,
        ...(this.settings.signal ? { signal: this.settings.signal } : {}),
        classify: (error) => {
          const failure = describeFailure(error, this.clock.now());
          const polled = failure.code !== undefined && spec.pollCodes?.some((code) => code.toLowerCase() === failure.code!.toLowerCase()) === true;
          setPolling(polled);
          return polled ? { retry: true, delayMs: this.pollDelayMs() } : classifyHttpFailure(failure, spec.retryCodes);
        },
        onRetry: (error, info) => {
          const failure = describeFailure(error, this.clock.now());
          this.settings.platform.info(`  ${spec.what}: ${briefFailure(failure)} — trying again in ${Math.round(info.delayMs / 100) / 10} s (attempt ${info.attempt + 1}).`);
        },
        giveUp: (error, info) => {
          // Already translated (an operation's own check, or a credential that explains its failure).
          if (isTaskError(error)) return error;
          const failure = describeFailure(error, this.clock.now());
          const waited = info.reason === 'deadline' ? ` after ${info.attempt} attempts in ${Math.round(info.elapsedMs / 1000)} s` : '';
          return spec.translate?.(failure) ?? translateCommon(spec.what, failure, waited, error);
        },
      });
    } finally {
      setPolling(false);
    }
  }

  /** The poll interval, ±25 % so that calls that started together drift apart, stretched when many poll at once. */
  private pollDelayMs(): number {
    const intervalMs = Math.max(this.settings.pollIntervalMs ?? 1000, (1000 * this.polling) / (this.settings.maxPollsPerSecond ?? 20));
    return Math.round(intervalMs * (0.75 + this.clock.random() / 2));
  }

  /** One attempt, ended by its timeout or the run's signal, whichever comes first. */
  private async attempt<T>(spec: CallSpec<T>, attempt: number, started: number): Promise<T> {
    const remainingMs = this.policy.deadlineMs - (this.clock.now() - started);
    const timeoutMs = Math.max(minimumRequestTimeoutMs, Math.min(this.settings.requestTimeoutMs ?? defaultRequestTimeoutMs, remainingMs));
    const call = followRun(this.settings.signal);
    const timer = setTimeout(() => call.abort(requestTimedOut(spec.what, timeoutMs)), timeoutMs);
    try {
      return await untilAborted(spec.operation(attempt, call.signal), call.signal);
    } finally {
      clearTimeout(timer);
      call.done();
    }
  }

  /** Like run(), but a dropped or failed POST first checks whether it took effect before posting again. */
  async runCreate<T>(spec: CallSpec<T> & { readonly findExisting: () => Promise<T | undefined> }): Promise<T> {
    let lastFailed = false;
    return this.run({
      ...spec,
      operation: async (attempt, signal) => {
        if (attempt > 1 && lastFailed) {
          const existing = await spec.findExisting();
          if (existing !== undefined) return existing;
        }
        lastFailed = true;
        const created = await spec.operation(attempt, signal);
        lastFailed = false;
        return created;
      },
    });
  }
}

/** A request without an answer: read like a dropped connection (retried, MIC602 in the end). */
function requestTimedOut(what: string, timeoutMs: number): Error {
  return Object.assign(new Error(`${what}: no answer within ${Math.round(timeoutMs / 100) / 10} s`), { code: 'ETIMEDOUT' });
}

/** The operation's result, or the signal's reason as soon as it aborts (the operation may still be running). */
function untilAborted<T>(operation: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    operation.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const entraCodes: readonly (readonly [RegExp, ErrorCode])[] = [
  [/AADSTS7002138\b|AADSTS700213\b/, 'MIC505'],
  [/AADSTS700211\b/, 'MIC504'],
  [/AADSTS700024\b/, 'MIC506'],
];

function translateCommon(what: string, failure: ServiceFailure, waited: string, cause: unknown): TaskError {
  const detail = formatFailure(failure);
  const code = commonCode(failure);
  return new TaskError(code, `${what} failed${waited}: ${detail}`, { cause });
}

function commonCode(failure: ServiceFailure): ErrorCode {
  if (failure.source === 'network') return 'MIC602';
  if (failure.statusCode === 429) return 'MIC601';
  if (failure.source === 'entra') {
    for (const [pattern, code] of entraCodes) if (pattern.test(failure.message)) return code;
    return 'MIC603';
  }
  if (failure.source === 'arm') {
    if (failure.code === 'AuthorizationFailed' || failure.code === 'LinkedAuthorizationFailed') return 'MIC304';
    if (failure.statusCode === 401) return 'MIC603';
    if (failure.code === 'ResourceGroupNotFound') return 'MIC205';
    if (failure.code === 'PrincipalNotFound') return 'MIC305';
    if (failure.code === 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity') return 'MIC206';
    if (failure.code === 'RoleAssignmentUpdateNotPermitted') return 'MIC306';
    if (failure.code === 'SubscriptionNotFound') return 'MIC307';
  }
  if (failure.source === 'devops' && failure.statusCode === 401) return 'MIC408';
  return 'MIC604';
}
