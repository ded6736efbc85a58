// Every call made for a run ends when the run's signal aborts (task-lifetime.ts), and each attempt also has a
// timeout of its own. The obvious way to combine the two, AbortSignal.any([run, own]) per request, is the
// pattern Node.js's issue tracker reports as a leak: each combined signal stays listed on the long-lived run
// signal (nodejs/node#55351, nodejs/node#64476). On Node 20.20, 10,000 combined signals with a listener each are
// all still listed after a forced collection. It was also a tenth of an ARM write's CPU here (0.60 → 0.55 ms,
// docs/performance.md).
//
// So each run signal gets one listener, which aborts the calls open under it; a call leaves that list when it
// ends. The HTTP client can tell a request's signal already follows the run, and passes it on as it is.

/** One call's cancellation: its signal aborts with the run, with `abort()`, or with the signal it follows. */
export interface FollowingCall {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
  /** The call ended: the run no longer needs to reach it. */
  done(): void;
}

/** Anything that aborts: an AbortSignal, or the SDK's AbortSignalLike. */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The calls open under each run signal; the one listener a run signal gets aborts them all. */
const openCalls = new WeakMap<AbortSignal, Set<AbortController>>();
/** Which run each call's signal follows. */
const followed = new WeakMap<AbortSignal, AbortSignal>();

/** A call that ends when `run` aborts (if there is a run signal), and also when `also` does. */
export function followRun(run: AbortSignal | undefined, also?: AbortSource): FollowingCall {
  const controller = new AbortController();
  const open = run ? callsUnder(run) : undefined;
  if (run) followed.set(controller.signal, run);
  const onAlso = () => controller.abort(also?.reason);
  const done = () => {
    open?.delete(controller);
    also?.removeEventListener('abort', onAlso);
  };
  if (run?.aborted) controller.abort(run.reason);
  else if (also?.aborted) onAlso();
  else {
    open?.add(controller);
    also?.addEventListener('abort', onAlso);
  }
  return { signal: controller.signal, abort: (reason) => controller.abort(reason), done };
}

/** Whether `signal` belongs to a call that already follows `run`. */
export function followsRun(signal: AbortSource | undefined, run: AbortSignal): boolean {
  return signal instanceof AbortSignal && followed.get(signal) === run;
}

function callsUnder(run: AbortSignal): Set<AbortController> {
  let open = openCalls.get(run);
  if (!open) {
    const calls = (open = new Set());
    openCalls.set(run, calls);
    run.addEventListener(
      'abort',
      () => {
        for (const controller of calls) controller.abort(run.reason);
        calls.clear();
      },
      { once: true },
    );
  }
  return open;
}
