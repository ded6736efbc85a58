// What every fake shares: a log of calls (so tests can assert "zero writes" or "created in this order"), a
// record of which calls overlapped in time (so tests can check bounds on parallelism), simulated latency
// (so that overlap can happen at all), and failure injection.

export type PortName = 'identities' | 'roles' | 'devOps' | 'directory';

export interface Call {
  readonly port: PortName;
  readonly method: string;
  readonly args: readonly unknown[];
  readonly write: boolean;
  /** What the call is about: an identity name or a connection name, for grouping calls per environment. */
  readonly subject: string;
}

export interface InjectedFailure {
  readonly method: string;
  readonly when: (call: Call) => boolean;
  readonly error: () => unknown;
  /** How many more calls it fails; Infinity for all. */
  remaining: number;
}

export class CallLog {
  readonly calls: Call[] = [];
  /** For every call, all calls in flight when it started (itself included). */
  readonly overlaps: Call[][] = [];
  private readonly active: Call[] = [];
  private readonly failures: InjectedFailure[] = [];

  constructor(private readonly latencyTicks: number) {}

  writes(): Call[] {
    return this.calls.filter((call) => call.write);
  }

  methods(port?: PortName): string[] {
    return this.calls.filter((call) => port === undefined || call.port === port).map((call) => call.method);
  }

  failOn(method: string, error: () => unknown, options: { when?: (call: Call) => boolean; times?: number } = {}): void {
    this.failures.push({ method, when: options.when ?? (() => true), error, remaining: options.times ?? Infinity });
  }

  /** Runs a fake's body as one call: logged, tracked as in flight across simulated latency, maybe failed. */
  async record<T>(call: Call, body: () => T | Promise<T>): Promise<T> {
    this.calls.push(call);
    this.active.push(call);
    this.overlaps.push([...this.active]);
    try {
      await this.tick();
      const failure = this.failures.find((candidate) => candidate.method === call.method && candidate.remaining > 0 && candidate.when(call));
      if (failure) {
        failure.remaining -= 1;
        throw failure.error();
      }
      const result = await body();
      await this.tick();
      return result;
    } finally {
      this.active.splice(this.active.indexOf(call), 1);
    }
  }

  private async tick(): Promise<void> {
    for (let i = 0; i < this.latencyTicks; i += 1) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Deterministic GUIDs, readable in failure output: fakeGuid('c1', 3) → c1c1c1c1-0000-4000-8000-000000000003. */
export function fakeGuid(tag: string, n: number): string {
  return `${tag.repeat(8 / tag.length).slice(0, 8)}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
