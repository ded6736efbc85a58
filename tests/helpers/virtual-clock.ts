// A clock for tests of code that waits in many places at once (parallel workers, a shared pacer, polling loops):
// time moves only when every pending promise has settled and something is sleeping, straight to the earliest
// wake-up. A minute-long simulation of hundreds of concurrent requests runs in milliseconds, and its timings are
// exact and repeatable.
export class VirtualClock {
  private time = 0;
  private sleepers: { at: number; order: number; wake: () => void }[] = [];
  private order = 0;

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.sleepers.push({ at: this.time + Math.max(0, ms), order: this.order++, wake });
    });
  }

  random(): number {
    return 0.5;
  }

  /** Runs `work` to completion, advancing time whenever nothing else can happen. */
  async run<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const done = work.finally(() => {
      settled = true;
    });
    done.catch(() => undefined); // observed below, once the loop sees it settled

    for (;;) {
      // Let every ready continuation run (several macrotask turns: promise chains can be long).
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      if (settled) return done;
      if (this.sleepers.length === 0) throw new Error('VirtualClock: the work is stuck: nothing is sleeping and it has not settled');
      this.sleepers.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = this.sleepers[0]!;
      this.time = next.at;
      const due = this.sleepers.filter((sleeper) => sleeper.at === next.at);
      this.sleepers = this.sleepers.filter((sleeper) => sleeper.at !== next.at);
      for (const sleeper of due) sleeper.wake();
    }
  }
}
