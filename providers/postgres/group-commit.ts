/**
 * Group commit: calls that arrive while a batch is being sent (or within the same event-loop turn)
 * are sent together as ONE statement, so many acks share one round trip and one WAL flush. Each
 * call still gets its own outcome: `send` returns one per entry, in order, and a failure of the
 * whole statement (connection lost...) is every entry's failure.
 *
 * Nothing waits on purpose: an idle system sends a lone call on the next tick, as before. Batches
 * only grow when calls arrive faster than the database commits them.
 */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Pending<E, R> {
  entry: E;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class GroupCommit<E, R> {
  private queue: Array<Pending<E, R>> = [];
  private inFlight = 0;
  private scheduled = false;

  /**
   * @param send sends entries as one statement; resolves with one outcome per entry, in order.
   * @param maxInFlight batches sent at once (each holds a pooled connection while it runs).
   * @param maxBatch entries per statement: bounds its size and how long its row locks are held.
   */
  constructor(
    private readonly send: (entries: E[]) => Promise<Array<Outcome<R>>>,
    private readonly maxInFlight: number,
    private readonly maxBatch: number,
  ) {}

  submit(entry: E): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // Calls made in the same tick (a fetch's items all reach their ack together) join this batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight++;
    try {
      const outcomes = await this.send(batch.map((p) => p.entry));
      batch.forEach((p, i) => {
        const outcome = outcomes[i];
        if (!outcome) p.reject(new Error(`group commit: no outcome for entry ${i} of ${batch.length}`));
        else if (outcome.ok) p.resolve(outcome.value);
        else p.reject(outcome.error);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
