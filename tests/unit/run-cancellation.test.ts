// Protects run-cancellation.ts: a call that follows the run's signal ends with it, through one listener on the
// run's signal however many calls are open, and leaves it once done — so that a run with a hundred calls in
// flight or waiting neither lists a hundred signals on the run's (the AbortSignal.any leak) nor makes Node warn
// of a listener leak in the agent's log.
import * as assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { followRun, followsRun, type AbortSource } from '../../tasks/ManagedIdentityConnections/src/run-cancellation';

describe('followRun', () => {
  it('aborts every open call with the run\'s reason, through one listener on the run\'s signal', () => {
    const run = new AbortController();
    const calls = Array.from({ length: 100 }, () => followRun(run.signal));
    assert.equal(getEventListeners(run.signal, 'abort').length, 1);
    const reason = new Error('the task has its result');
    run.abort(reason);
    assert.ok(calls.every((call) => call.signal.aborted && call.signal.reason === reason));
  });

  it('no longer reaches a call once it is done, and aborts one call alone', () => {
    const run = new AbortController();
    const finished = followRun(run.signal);
    const timedOut = followRun(run.signal);
    const open = followRun(run.signal);
    finished.done();
    timedOut.abort(new Error('no answer within 30 s'));
    assert.equal(open.signal.aborted, false, 'one call\'s timeout is not the run\'s');
    run.abort(new Error('cancelled'));
    assert.equal(finished.signal.aborted, false);
    assert.match(String(timedOut.signal.reason), /no answer/);
    assert.equal(open.signal.aborted, true);
  });

  it('starts aborted under a run that already ended', () => {
    const run = new AbortController();
    const reason = new Error('cancelled');
    run.abort(reason);
    assert.equal(followRun(run.signal).signal.reason, reason);
  });

  it('also follows a signal of the caller\'s, and stops listening to it when done', () => {
    const run = new AbortController();
    const listeners = new Set<() => void>();
    const own: AbortSource & { abort(): void } = {
      aborted: false,
      addEventListener: (_, listener) => listeners.add(listener),
      removeEventListener: (_, listener) => listeners.delete(listener),
      abort() {
        (this as { aborted: boolean }).aborted = true;
        for (const listener of listeners) listener();
      },
    };
    const call = followRun(run.signal, own);
    assert.equal(listeners.size, 1);
    call.done();
    assert.equal(listeners.size, 0);
    const second = followRun(run.signal, own);
    own.abort();
    assert.equal(second.signal.aborted, true);
    assert.equal(run.signal.aborted, false, 'the caller\'s signal ends its call, not the run');
  });

  it('without a run signal, is a call of its own', () => {
    const call = followRun(undefined);
    call.abort(new Error('timeout'));
    assert.equal(call.signal.aborted, true);
  });

  it('tells the HTTP client which signals already follow which run', () => {
    const run = new AbortController();
    const other = new AbortController();
    const call = followRun(run.signal);
    assert.equal(followsRun(call.signal, run.signal), true);
    assert.equal(followsRun(call.signal, other.signal), false);
    assert.equal(followsRun(new AbortController().signal, run.signal), false);
    assert.equal(followsRun(undefined, run.signal), false);
  });
});
