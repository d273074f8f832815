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
   * A rejection is logged; the item's lock then simply expires.
   */
  handle(item: T, giveUp: AbortSignal): Promise<void>;
}

export interface DispatchLoop {
  start(): void;
  /** Stop fetching; wait up to `graceMs` for in-flight handlers, then make the rest give up; resolves when all settled. */
  stop(graceMs: number): Promise<void>;
}

export function createDispatchLoop<T>(opts: DispatchLoopOptions<T>): DispatchLoop {
  const stopping = new AbortController();
  const giveUp = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  let running: Promise<void> | undefined;

  const track = (item: T) => {
    const work = opts.handle(item, giveUp.signal).catch((err) => opts.logger.error({ err }, `${opts.name}: handler failed`));
    const settled = work.finally(() => {
      inFlight.delete(settled);
      slotFreed?.();
    });
    inFlight.add(settled);
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
      if (inFlight.size >= opts.concurrency) {
        await waitForSlot();
        continue;
      }
      let items: T[];
      try {
        items = await opts.fetch(opts.concurrency - inFlight.size, stopping.signal);
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
    async stop(graceMs) {
      stopping.abort();
      await running;
      if (inFlight.size > 0) {
        const allDone = Promise.all(inFlight).then(() => true);
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
