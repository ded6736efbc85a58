// The task process's lifetime. A run can end while calls are still under way — one failed read ends observe()
// while the others keep retrying for up to propagationTimeoutSeconds — and Node would only exit once they are
// done: a run once printed task.complete at 5 s and exited at 294 s. So the run gets one AbortSignal that
// every retry, wait and client call honours; the entry point ends it with the result, and leaves within
// EXIT_GRACE_MS even if a socket of a client without cancellation (azure-devops-node-api) lingers. The agent
// cancels a task with SIGINT, then SIGTERM: either ends the run the same way (MIC606).
import { TaskError } from '../errors';
import { systemClock } from '../retry';
import type { WaitClock } from '../core/verification-run';

/** After the result is reported: long enough for stdout to drain, short of the agent's patience. */
export const EXIT_GRACE_MS = 1_500;

export class TaskLifetime {
  private readonly controller = new AbortController();
  readonly signal: AbortSignal = this.controller.signal;
  /** For the verification run's wait: a sleep that ends when the run is cancelled. */
  readonly clock: WaitClock = { now: () => systemClock.now(), sleep: (ms) => systemClock.sleep(ms, this.signal) };

  constructor(processLike: Pick<NodeJS.Process, 'once'> = process) {
    for (const name of ['SIGINT', 'SIGTERM'] as const) {
      processLike.once(name, () => this.cancel(`The agent stopped the task (${name}); calls in flight were abandoned.`));
    }
  }

  /** Called once the task's result is out: cancels what still runs, and exits soon whatever lingers. */
  end(exit: () => void = () => process.exit()): void {
    this.cancel('The task already has its result; calls still in flight were abandoned.');
    setTimeout(exit, EXIT_GRACE_MS).unref();
  }

  private cancel(message: string): void {
    if (!this.signal.aborted) this.controller.abort(new TaskError('MIC606', message));
  }
}
