/**
 * Future wake-up times of one queue (rows that become visible later), kept in a min-heap with ONE
 * real timer armed for the earliest entry only: thousands of pending durable timers cost one
 * setTimeout, not thousands. Equal times are stored once, since one wake serves every row due then.
 */

/** Node fires a setTimeout at once (with a TimeoutOverflowWarning) above this delay; longer waits are chained. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class TimerHeap {
  private readonly heap: number[] = [];
  private readonly members = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param now the provider's clock in ms: entries are due when `now() >= at`.
   * @param onDue called once per firing, however many entries became due together.
   */
  constructor(
    private readonly now: () => number,
    private readonly onDue: () => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(at: number): void {
    if (this.members.has(at)) return;
    this.members.add(at);
    this.push(at);
    // Only a new earliest entry moves the one real timer; later entries wait their turn.
    if (this.heap[0] === at) this.arm();
  }

  /** Forget every entry and stop the timer. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
    this.members.clear();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const earliest = this.heap[0];
    if (earliest === undefined) return;
    const delay = Math.max(0, earliest - this.now());
    // unref: a pending wake-up alone must not keep the process alive; waiters hold their own timers.
    this.timer =
      delay > MAX_TIMER_DELAY_MS
        ? setTimeout(() => this.arm(), MAX_TIMER_DELAY_MS).unref()
        : setTimeout(() => this.fire(earliest), delay).unref();
  }

  private fire(armedFor: number): void {
    this.timer = undefined;
    // The real delay computed for `armedFor` has elapsed, so it counts as due even when the clock lags
    // (a database-clock estimate, or a test clock that moves only when told): no busy re-arming.
    const cutoff = Math.max(this.now(), armedFor);
    let due = false;
    while (this.heap[0] !== undefined && this.heap[0] <= cutoff) {
      this.members.delete(this.pop());
      due = true;
    }
    this.arm();
    if (due) this.onDue();
  }

  private push(value: number): void {
    const heap = this.heap;
    heap.push(value);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= value) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = value;
  }

  private pop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
