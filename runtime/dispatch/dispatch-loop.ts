/**
 * The loop both dispatchers share: long-poll the provider for as many items as there are free
 * slots, hand each to a handler, never run more than `concurrency` at once. Stopping ends the
 * long-poll through an AbortSignal, lets in-flight handlers finish within a grace period and then
 * tells the rest to give up (each handler abandons its own item: only it knows the lock token).
 *
 * Reservations (eager dispatch) take free slots while the loop's own long-poll may be out for the
 * same ones, so a long-poll can bring more items than there are free slots by the time it returns.
 * Those are held, not run over the limit (`concurrency` may be a rate limit or a mutex): each starts
 * when a slot frees, before any new reservation or fetch, or is released unrun (unlocked, its
 * attempt not counted) if none frees within `holdMs(lockMs)`, so that a worker whose slots are busy for
 * long does not sit on work others could do, nor let its locks expire. Stopping releases them.
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
  /** Give back fetched items that will not run here: unlocked, their attempt not counted. */
  release(items: T[]): Promise<void>;
  /** The items' lock duration: an item fetched past the free slots waits for one at most a quarter of it. */
  lockMs: number;
}

/** Longest wait for a slot of an item fetched past the free slots: well within its lock, and short. */
export function holdMs(lockMs: number): number {
  return Math.min(1_000, lockMs / 4);
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
  /** Fetched past the free slots, oldest first: each starts when a slot frees, or is released at its timer. */
  const held: Array<{ item: T; timer: NodeJS.Timeout }> = [];

  const occupy = (work: Promise<void>, slots: number) => {
    busy += slots;
    const settled = work.finally(() => {
      inFlight.delete(settled);
      busy -= slots;
      startHeld();
      slotFreed?.();
    });
    inFlight.add(settled);
  };
  const track = (item: T) => {
    const work = opts.handle(item, giveUp.signal).catch((err) => opts.logger.error({ err }, `${opts.name}: handler failed`));
    occupy(work, 1);
  };
  const release = (items: T[]) => {
    // Tracked without a slot, so stop() waits for the release too.
    occupy(opts.release(items).catch((err) => opts.logger.warn({ err }, `${opts.name}: releasing items failed; their locks will expire`)), 0);
  };
  const holdFor = holdMs(opts.lockMs);
  const hold = (item: T) => {
    const entry = {
      item,
      timer: setTimeout(() => {
        held.splice(held.indexOf(entry), 1);
        opts.logger.debug(`${opts.name}: no slot freed for a held item within ${holdFor} ms; releasing it`);
        release([item]);
      }, holdFor),
    };
    held.push(entry);
  };
  function startHeld(): void {
    while (held.length > 0 && busy < opts.concurrency) {
      const entry = held.shift()!;
      clearTimeout(entry.timer);
      track(entry.item);
    }
  }
  /** Slots neither running nor promised to held items. */
  const free = () => opts.concurrency - busy - held.length;

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
      if (free() <= 0) {
        await waitForSlot();
        continue;
      }
      let items: T[];
      try {
        items = await opts.fetch(free(), stopping.signal);
        failures = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        failures += 1;
        const delayMs = backoffMs(failures);
        opts.logger.warn({ err, delayMs }, `${opts.name}: fetch failed; backing off`);
        await sleep(delayMs, stopping.signal);
        continue;
      }
      // Items that arrive after stop() began are still handled: they are locked to us now. Those past
      // the slots that reservations took meanwhile wait for a slot.
      const room = Math.max(0, free());
      for (const item of items.slice(0, room)) track(item);
      for (const item of items.slice(room)) hold(item);
    }
  };

  return {
    start() {
      running ??= loop();
    },
    reserve(n) {
      const slots = Math.min(n, free());
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
      const unstarted = held.splice(0);
      for (const entry of unstarted) clearTimeout(entry.timer);
      if (unstarted.length > 0) release(unstarted.map((entry) => entry.item));
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
