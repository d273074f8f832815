/** The loop both dispatchers share, with a stand-in fetch and handler: how it hands out give-up signals. */
import { getEventListeners } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDispatchLoop } from '../dispatch/dispatch-loop.js';
import { testLogger } from './support/silent-logger.js';

test('each running handler gets a give-up signal of its own: twenty listening handlers put one listener on each', async () => {
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
      giveUp.addEventListener('abort', () => resolve(), { once: true });
      signals.push(giveUp);
      if (signals.length === WIDTH) allRunning();
    }),
  });
  loop.start();
  await running;
  assert.is(new Set(signals).size, WIDTH, 'one signal per handler');
  assert.equal(Math.max(...signals.map((s) => getEventListeners(s, 'abort').length)), 1);
  await loop.stop(0); // grace over at once: every handler is told to give up, and stop() returns once all settled
  assert.ok(signals.every((s) => s.aborted));
});

test.run();
