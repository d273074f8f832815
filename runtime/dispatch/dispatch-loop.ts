/**
 * The loop both dispatchers share: long-poll the provider for as many items as there are free
 * slots, hand each to a handler, never run more than `concurrency` at once. Stopping ends the
 * long-poll through an AbortSignal, lets in-flight handlers finish within a grace period and then
 * tells the rest to give up (each handler abandons its own item: only it knows the lock token).
 */
import type { Logger } from 'pino';
import { backoffMs, sleep } from './backoff.js';

export interface DispatchLoopOptions<T> {
  /** For logs: 'orchestrations' or 'activities'. */
  name: string;
  concurrency: number;
  logger: Logger;
  /** Fetch up to `max` items; resolves early (possibly empty) when `signal` aborts. */
  fetch(max: number, signal: AbortSignal): Promise<T[]>;
  /**
   * Process one item to the end (ack or abandon). `giveUp` aborts when shutdown's grace period is
   * over: the handler must then abandon its item without counting the attempt and settle promptly.
   * Every handler gets the same signal: listen with whenAborted (abort-listeners.ts).
   * A rejection is logged; the item's lock then simply expires.
   */
  handle(item: T, giveUp: AbortSignal): Promise<void>;
}

/** Slots taken ahead for items that arrive by another path than this loop's fetch (eager dispatch). */
export interface Reservation<T> {
  readonly slots: number;
  /** Run these items (locked to us, so all of them, even past `slots`) and free the unused slots. Call exactly once. */
  fill(items: readonly T[]): void;
}

export interface DispatchLoop<T = unknown> {
  start(): void;
  /** Take up to `n` free slots (null when none is free or the loop is stopping); the loop's fetches leave them alone. */
  reserve(n: number): Reservation<T> | null;
  /** Stop fetching; wait up to `graceMs` for in-flight handlers, then make the rest give up; resolves when all settled. */
  stop(graceMs: number): Promise<void>;
}

export function createDispatchLoop<T>(opts: DispatchLoopOptions<T>): DispatchLoop<T> {
  const stopping = new AbortController();
  /**
   * One give-up signal shared by every handler: they are all told to give up at the same moment.
   * Handlers listen to it through whenAborted (one listener on the signal however many listen).
   */
  const giveUp = new AbortController();
  const inFlight = new Set<Promise<void>>();
  /** Slots in use: running handlers and reservations. */
  let busy = 0;
  let slotFreed: (() => void) | undefined;
  let running: Promise<void> | undefined;

  const occupy = (work: Promise<void>, slots: number) => {
    busy += slots;
    const settled = work.finally(() => {
      inFlight.delete(settled);
      busy -= slots;
      slotFreed?.();
    });
    inFlight.add(settled);
  };
  const track = (item: T) => {
    const work = opts.handle(item, giveUp.signal).catch((err) => opts.logger.error({ err }, `${opts.name}: handler failed`));
    occupy(work, 1);
  };

  // Resolves when a handler settles or stop() begins, whichever comes first.
  const waitForSlot = () =>
    new Promise<void>((resolve) => {
      slotFreed = () => {
        slotFreed = undefined;
        resolve();
      };
    });
  stopping.signal.addEventListener('abort', () => slotFreed?.(), { once: true });

  const loop = async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      if (busy >= opts.concurrency) {
        await waitForSlot();
        continue;
      }
      let items: T[];
      try {
        items = await opts.fetch(opts.concurrency - busy, stopping.signal);
        failures = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        failures += 1;
        const delayMs = backoffMs(failures);
        opts.logger.warn({ err, delayMs }, `${opts.name}: fetch failed; backing off`);
        await sleep(delayMs, stopping.signal);
        continue;
      }
      // Items that arrive after stop() began are still handled: they are locked to us now.
      for (const item of items) track(item);
    }
  };

  return {
    start() {
      running ??= loop();
    },
    reserve(n) {
      const slots = Math.min(n, opts.concurrency - busy);
      if (stopping.signal.aborted || slots <= 0) return null;
      // Held as in-flight work until filled, so stop() waits for what the reservation brings.
      let filled!: () => void;
      occupy(new Promise<void>((resolve) => (filled = resolve)), slots);
      let used = false;
      return {
        slots,
        fill(items) {
          if (used) throw new Error(`${opts.name}: a reservation was filled twice`);
          used = true;
          for (const item of items) track(item);
          filled();
        },
      };
    },
    async stop(graceMs) {
      stopping.abort();
      await running;
      if (inFlight.size > 0) {
        // Re-checked: a reservation filled meanwhile adds handlers to wait for.
        const allDone = (async () => {
          while (inFlight.size > 0) await Promise.all(inFlight);
          return true;
        })();
        const graceOver = new AbortController();
        const finished = await Promise.race([allDone, sleep(graceMs, graceOver.signal).then(() => false)]);
        graceOver.abort(); // clears the grace timer when everything finished early
        if (!finished) {
          opts.logger.info({ inFlight: inFlight.size }, `${opts.name}: grace period over; abandoning in-flight items`);
          giveUp.abort();
        }
        await allDone;
      }
    },
  };
}
