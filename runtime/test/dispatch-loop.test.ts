/** The loop both dispatchers share, with a stand-in fetch and handler: give-up signals, and slots shared with reservations. */
import { getEventListeners } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { whenAborted } from '../dispatch/abort-listeners.js';
import { createDispatchLoop, holdMs } from '../dispatch/dispatch-loop.js';
import { testLogger } from './support/silent-logger.js';

test('running handlers share one give-up signal: twenty listening through whenAborted put one listener on it, and all give up at stop', async () => {
  const WIDTH = 20; // twice Node's default limit of listeners per signal
  const signals: AbortSignal[] = [];
  let allRunning!: () => void;
  const running = new Promise<void>((resolve) => (allRunning = resolve));
  let fetched = false;
  const loop = createDispatchLoop<number>({
    name: 'test',
    concurrency: WIDTH,
    logger: testLogger,
    // One batch of WIDTH items, then nothing until stopped.
    fetch: async (max, signal) => {
      if (!fetched) {
        fetched = true;
        return Array.from({ length: max }, (_, i) => i);
      }
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return [];
    },
    // Like an activity attempt: listen to the give-up signal and run until it fires.
    handle: (_item, giveUp) => new Promise<void>((resolve) => {
      whenAborted(giveUp, () => resolve());
      signals.push(giveUp);
      if (signals.length === WIDTH) allRunning();
    }),
    lockMs: 60_000,
    release: async () => assert.unreachable('every fetched item had a slot'),
  });
  loop.start();
  await running;
  assert.is(new Set(signals).size, 1, 'one signal for all');
  assert.is(getEventListeners(signals[0]!, 'abort').length, 1, 'one listener however many handlers listen');
  await loop.stop(0); // grace over at once: every handler is told to give up, and stop() returns once all settled
  assert.ok(signals[0]!.aborted);
});

test('whenAborted calls each subscriber once, skips those that unsubscribed, and calls at once on a signal already aborted', () => {
  const controller = new AbortController();
  const calls: string[] = [];
  whenAborted(controller.signal, () => calls.push('a'));
  const stopB = whenAborted(controller.signal, () => calls.push('b'));
  whenAborted(controller.signal, () => calls.push('c'));
  stopB();
  controller.abort();
  controller.abort();
  assert.equal(calls, ['a', 'c']);
  whenAborted(controller.signal, () => calls.push('late'));
  assert.equal(calls, ['a', 'c', 'late']);
});

/** A handler that runs until finished from outside, counting how many run at once and which started. */
function gate() {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const open: Array<() => void> = [];
  return {
    handle: (item: number) => new Promise<void>((resolve) => {
      running += 1;
      most = Math.max(most, running);
      started.push(item);
      open.push(() => {
        running -= 1;
        resolve();
      });
    }),
    finishOne: () => open.shift()?.(),
    finishAll: () => open.splice(0).forEach((finish) => finish()),
    most: () => most,
    started: () => started,
  };
}

const tick = (ms = 10) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A loop of concurrency 3 whose first fetch is already out when a reservation takes two slots, and
 * then brings three items; later fetches find nothing.
 */
async function overfetched(lockMs: number) {
  const handlers = gate();
  const released: number[][] = [];
  const asked: number[] = [];
  let answer!: (items: number[]) => void;
  const loop = createDispatchLoop<number>({
    name: 'test',
    concurrency: 3,
    logger: testLogger,
    lockMs,
    fetch: async (max, signal) => {
      asked.push(max);
      if (asked.length === 1) return new Promise<number[]>((resolve) => (answer = resolve));
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return [];
    },
    handle: handlers.handle,
    release: async (items) => void released.push(items),
  });
  loop.start();
  await tick();
  loop.reserve(2)!.fill([10, 11]);
  answer([1, 2, 3]);
  await tick();
  return { loop, handlers, released, asked };
}

test('items a long-poll brings past the slots a reservation took meanwhile wait for a slot: never more than concurrency run at once', async () => {
  const { loop, handlers, released, asked } = await overfetched(60_000);
  assert.equal(handlers.started(), [10, 11, 1], 'two reserved and one fetched item run');
  assert.is(loop.reserve(1), null, 'no slot for a reservation while fetched items wait');
  assert.equal(asked, [3], 'and no fetch either');
  handlers.finishOne();
  await tick();
  assert.equal(handlers.started(), [10, 11, 1, 2], 'a freed slot goes to the oldest waiting item');
  handlers.finishAll();
  await tick();
  assert.equal(handlers.started(), [10, 11, 1, 2, 3]);
  assert.is(handlers.most(), 3);
  assert.equal(released, []);
  handlers.finishAll();
  await loop.stop(0);
});

test('a fetched item no slot frees for within its hold time (a quarter of its lock) is released unrun; stopping releases the rest', async () => {
  assert.is(holdMs(60_000), 1_000);
  assert.is(holdMs(200), 50);
  const { loop, handlers, released } = await overfetched(200);
  await tick(100);
  assert.equal(released, [[2], [3]], 'each released at its own hold time');
  assert.equal(handlers.started(), [10, 11, 1]);
  handlers.finishAll();
  await loop.stop(0);

  const stopped = await overfetched(60_000);
  const stopping = stopped.loop.stop(0);
  await tick();
  assert.equal(stopped.released, [[2, 3]], 'released at stop, not left to their locks');
  stopped.handlers.finishAll();
  await stopping;
  assert.equal(stopped.handlers.started(), [10, 11, 1]);
});

test.run();
