/**
 * fanOut(def, { batchSize }) end to end on PostgreSQL: a worker runs a batch's elements at once,
 * retries a failed element itself, and acks the batch's results together; the machine gets the
 * outputs in input order. An element that fails for good ends the fan-out, and the batches still
 * running are cancelled (their elements see their signal abort).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineActivity, defineOrchestration, fanOut } from '../definitions/index.js';
import { gatherMachine } from '../engine/test-machines.js';
import { useHarness } from './support/harness.js';

const h = useHarness(test);
const fast = { initialMs: 10, maxMs: 50, backoff: 2, jitter: 0 };

test('batched fan-out of 40 elements, 8 per batch, some retried in the worker: outputs in input order, each element run as its failures asked', async () => {
  const runs = new Map<number, number[]>();
  const square = defineActivity('fanb.square', async (n: number, ctx) => {
    runs.set(n, [...(runs.get(n) ?? []), ctx.attempt]);
    assert.is(ctx.activityId, `all#1[${n - 1}]`, "each run carries its element's id");
    if (n % 7 === 0 && ctx.attempt === 1) throw new Error(`first attempt of ${n} fails`);
    await new Promise((resolve) => setTimeout(resolve, (n * 13) % 17)); // finish out of order
    return n * n;
  }, { retry: { maxAttempts: 3, ...fast } });
  const def = defineOrchestration('fanb-squares', gatherMachine(fanOut(square, { batchSize: 8 })));
  await h.runtime({ orchestrations: [def], activities: [square], concurrency: { orchestrations: 4, activities: 2 } });
  const input = Array.from({ length: 40 }, (_, i) => i + 1);
  const { instanceId } = await h.client.start(def, input);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 30_000 });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { outputs: input.map((n) => n * n), error: null });
  for (const n of input) assert.equal(runs.get(n), n % 7 === 0 ? [1, 2] : [1], `element ${n}'s attempts`);
  const events = [];
  for await (const e of h.provider.readHistory(instanceId)) if (e.type === 'event') events.push((e.data as { payload: { activityId: string } }).payload.activityId);
  assert.equal(events.sort(), input.map((n) => `all#1[${n - 1}]`).sort(), 'one applied result per element');
});

test('an element that fails for good ends the fan-out; the other batches are cancelled and their elements see their signal abort', async () => {
  const aborted: number[] = [];
  const slowOrBroken = defineActivity('fanb.slow-or-broken', async (n: number, ctx) => {
    if (n === 2) throw new Error('element 2 is broken');
    if (n === 3) return n;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20_000);
      ctx.signal.addEventListener('abort', () => (aborted.push(n), clearTimeout(timer), resolve()), { once: true });
    });
    return n;
  }, { retry: { maxAttempts: 1 } });
  const def = defineOrchestration('fanb-broken', gatherMachine(fanOut(slowOrBroken, { batchSize: 2 })));
  // A short lock, so the cancelled batches notice their lost lock (renewal every lockMs/3) quickly.
  await h.runtime({ orchestrations: [def], activities: [slowOrBroken], concurrency: { orchestrations: 2, activities: 4 }, lockMs: 600 });
  const { instanceId } = await h.client.start(def, [0, 1, 2, 3, 4, 5]);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  const error = (final.output as { error: { message: string; index: number } }).error;
  assert.is(error.index, 2);
  assert.match(error.message, 'element 2 is broken');
  const deadline = Date.now() + 10_000;
  while (aborted.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal([...aborted].sort(), [0, 1, 4, 5], 'every element of the other batches saw its signal abort');
});

test.run();
