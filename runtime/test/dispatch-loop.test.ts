/** The loop both dispatchers share, with a stand-in fetch and handler: how it hands out give-up signals. */
import { getEventListeners } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { whenAborted } from '../dispatch/abort-listeners.js';
import { createDispatchLoop } from '../dispatch/dispatch-loop.js';
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

test.run();
