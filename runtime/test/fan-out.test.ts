/**
 * fanOut() end to end on PostgreSQL: every element runs on the workers (each with its own retries),
 * the machine gets the outputs in input order; an element that fails for good ends the fan-out and
 * the other elements are cancelled (their running attempts see their signal abort).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineActivity, defineOrchestration, fanOut } from '../definitions/index.js';
import { gatherMachine } from '../engine/test-machines.js';
import { useHarness } from './support/harness.js';

const h = useHarness(test);
const fast = { initialMs: 10, maxMs: 50, backoff: 2, jitter: 0 };

test('fan-out of 40 elements, some retried: outputs in input order, each element applied once', async () => {
  const runs = new Map<number, number>();
  const square = defineActivity('fan.square', async (n: number, ctx) => {
    runs.set(n, (runs.get(n) ?? 0) + 1);
    if (n % 7 === 0 && ctx.attempt === 1) throw new Error(`first attempt of ${n} fails`);
    await new Promise((resolve) => setTimeout(resolve, (n * 13) % 17)); // finish out of order
    return n * n;
  }, { retry: { maxAttempts: 3, ...fast } });
  const def = defineOrchestration('fan-squares', gatherMachine(fanOut(square)));
  await h.runtime({ orchestrations: [def], activities: [square], concurrency: { orchestrations: 4, activities: 8 } });
  const input = Array.from({ length: 40 }, (_, i) => i + 1);
  const { instanceId } = await h.client.start(def, input);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 30_000 });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { outputs: input.map((n) => n * n), error: null });
  assert.equal([...runs.keys()].sort((a, b) => a - b), input);
  for (const n of input) assert.is(runs.get(n), n % 7 === 0 ? 2 : 1, `element ${n} ran as often as its failures asked`);
});

test('an element that fails for good ends the fan-out with its error and index; running elements are cancelled', async () => {
  const aborted: number[] = [];
  const slowOrBroken = defineActivity('fan.slow-or-broken', async (n: number, ctx) => {
    if (n === 2) throw new Error('element 2 is broken');
    // The others wait until cancelled (or a long time).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20_000);
      ctx.signal.addEventListener('abort', () => (aborted.push(n), clearTimeout(timer), resolve()), { once: true });
    });
    return n;
  }, { retry: { maxAttempts: 1 } });
  const def = defineOrchestration('fan-broken', gatherMachine(fanOut(slowOrBroken)));
  // A short lock, so cancelled elements notice their lost lock (renewal every lockMs/3) quickly.
  await h.runtime({ orchestrations: [def], activities: [slowOrBroken], concurrency: { orchestrations: 2, activities: 4 }, lockMs: 600 });
  const { instanceId } = await h.client.start(def, [0, 1, 2, 3]);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  const error = (final.output as { error: { message: string; index: number } }).error;
  assert.is(error.index, 2);
  assert.match(error.message, 'element 2 is broken');
  const deadline = Date.now() + 10_000;
  while (aborted.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal([...aborted].sort(), [0, 1, 3], 'every other element saw its signal abort');
});

test.run();
