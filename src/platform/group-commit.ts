/**
 * Group commit: requests that arrive while earlier batches are in flight are collected and
 * handed to `run` together, so N purchases cost one transaction (one commit, one WAL flush)
 * instead of N transactions queueing on the same rows. At most `maxInFlight` batches run at
 * once; a batch holds at most one request per `keyOf` (a buyer), so one multi-row statement
 * never touches a row twice; a later request with the same key waits for a following batch.
 *
 * Home-made because it is a queue and a counter: the batching libraries we looked at
 * (dataloader and the like) batch per tick without a bound on concurrent batches or a
 * per-key rule, and `run` must answer every request itself after its commit.
 */
export class GroupCommit<T> {
  private queue: T[] = [];
  private inFlight = 0;
  private scheduled = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly opts: {
      maxBatch: number;
      maxInFlight: number;
      keyOf(item: T): string;
      /** Runs one batch and answers each of its items; a rejection here is a bug (logged by the caller). */
      run(batch: T[]): Promise<void>;
    },
  ) {}

  push(item: T): void {
    this.queue.push(item);
    this.pump();
  }

  /** Puts items back at the head of the queue, for the next batch. */
  retry(items: T[]): void {
    if (items.length === 0) return;
    this.queue.unshift(...items);
    this.pump();
  }

  /** Requests queued or in a batch that has not answered yet. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Resolves once nothing is queued or in flight (shutdown, tests). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private pump(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.opts.maxInFlight) return;
    this.scheduled = true;
    // setImmediate, not a timer: everything that arrived in this turn of the event loop joins.
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) this.start(this.take());
    });
  }

  private take(): T[] {
    const batch: T[] = [];
    const rest: T[] = [];
    const keys = new Set<string>();
    for (const item of this.queue) {
      const key = this.opts.keyOf(item);
      if (batch.length < this.opts.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(item);
      } else {
        rest.push(item);
      }
    }
    this.queue = rest;
    return batch;
  }

  private start(batch: T[]): void {
    this.inFlight++;
    this.opts
      .run(batch)
      .catch(() => {})
      .finally(() => {
        this.inFlight--;
        this.pump();
        if (this.pending === 0) for (const w of this.waiters.splice(0)) w();
      });
  }
}

/** A request waiting in a group commit, with the callbacks that answer it. */
export interface Queued<J, R> {
  job: J;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Group commit of buyers' requests (checkout, pay), one batch in flight at a time: the next
 * batch gathers what arrives meanwhile, and bigger batches measured more checkouts per second
 * (bench:checkout) than two smaller ones at once. A buyer appears once per batch.
 */
export function buyerGroupCommit<J extends { buyerId: string }, R>(
  maxBatch: number,
  run: (batch: Queued<J, R>[]) => Promise<void>,
): GroupCommit<Queued<J, R>> {
  return new GroupCommit<Queued<J, R>>({ maxBatch, maxInFlight: 1, keyOf: (q) => q.job.buyerId, run });
}

/** Queues a job and waits for the batch that answers it. */
export function submit<J, R>(group: GroupCommit<Queued<J, R>>, job: J): Promise<R> {
  return new Promise((resolve, reject) => group.push({ job, resolve, reject }));
}
