// Calls that arrive close together, sent as one request.
//
// Environments run in parallel, so fifty of them ask for the same kind of write within a few milliseconds of
// each other. Where the service takes a list (Azure DevOps' pipeline permissions do), one request for all of
// them costs the task and the service far less than fifty. The first item of a batch opens a window of
// `windowMs`, and everything added in that window goes with it; `add` settles as `send` reports that item's
// outcome. Use it only for calls off the critical path: each waits up to the window before it is sent.

/** Sends a batch and reports each item's outcome, in the items' order. */
export type SendBatch<T> = (items: readonly T[]) => Promise<readonly PromiseSettledResult<void>[]>;

interface Waiting<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class MicroBatcher<T> {
  private waiting: Waiting<T>[] = [];

  constructor(
    private readonly send: SendBatch<T>,
    private readonly windowMs: number,
  ) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length === 1) setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.send(batch.map((entry) => entry.item)).then(
      (outcomes) => {
        batch.forEach((entry, index) => {
          const outcome = outcomes[index];
          if (outcome?.status === 'fulfilled') entry.resolve();
          else entry.reject(outcome ? outcome.reason : new Error('the batch reported no outcome for this item'));
        });
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  }
}
