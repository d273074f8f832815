/**
 * The worker dispatcher against the reference provider (MemoryProvider): attempts, retries,
 * timeouts, lost locks, unknown activities, crash loops and shutdown. The database adds nothing
 * here; the end-to-end tests cover the same paths through Postgres and the engine.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../providers/clock.js';
import type { Json, OrchestrationItem } from '../../providers/contract.js';
import { LockLostError } from '../../providers/errors.js';
import { MemoryProvider } from '../../providers/memory/index.js';
import { defineActivity, type ActivityContext, type ActivityDefinition } from '../definitions/index.js';
import { createWorkerDispatcher } from '../dispatch/worker-dispatcher.js';
import type { Reservation } from '../dispatch/dispatch-loop.js';
import { ActivityTimeoutError } from '../dispatch/errors.js';
import { nextResult, seedWorkItem } from './support/seed-work-item.js';
import { testLogger } from './support/silent-logger.js';

function worker(provider: MemoryProvider, activities: ActivityDefinition[], opts: { lockMs?: number; maxAttempts?: number; orchestrationSlot?: () => Reservation<OrchestrationItem> | null } = {}) {
  const dispatcher = createWorkerDispatcher({
    provider, activities, concurrency: 4, lockMs: opts.lockMs ?? 30_000, maxAttempts: opts.maxAttempts ?? 10,
    maxPayloadBytes: 1024, pollWaitMs: 1_000, unknownActivityDelayMs: 60_000, owner: 'test', logger: testLogger,
    ...(opts.orchestrationSlot ? { orchestrationSlot: opts.orchestrationSlot } : {}),
  });
  dispatcher.start();
  return dispatcher;
}

const fast = { initialMs: 5, maxMs: 20, backoff: 2, jitter: 0 };

test('success acks activityCompleted with the output; ctx carries the ids and attempt', async () => {
  const provider = new MemoryProvider();
  const seen: Array<Omit<ActivityContext, 'signal' | 'heartbeat' | 'logger'>> = [];
  const double = defineActivity('double', async (input: { n: number }, ctx) => {
    seen.push({ instanceId: ctx.instanceId, executionId: ctx.executionId, activityId: ctx.activityId, attempt: ctx.attempt });
    return { doubled: input.n * 2 };
  });
  await seedWorkItem(provider, { instanceId: 'i1', name: 'double', input: { n: 21 }, activityId: 'a1' });
  const w = worker(provider, [double]);
  const result = await nextResult(provider, 'i1');
  await w.stop(1_000);
  assert.is(result.kind, 'activityCompleted');
  assert.equal(result.payload, { activityId: 'a1', output: { doubled: 42 } });
  assert.equal(seen, [{ instanceId: 'i1', executionId: 1, activityId: 'a1', attempt: 1 }]);
  assert.is((await provider.queueDepths()).worker.visible + (await provider.queueDepths()).worker.locked, 0);
});

test('a failing attempt is retried with backoff until it succeeds', async () => {
  const provider = new MemoryProvider();
  const attempts: number[] = [];
  const flaky = defineActivity('flaky', async (_: Json, ctx) => {
    attempts.push(ctx.attempt);
    if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
    return 'ok';
  }, { retry: { maxAttempts: 5, ...fast } });
  await seedWorkItem(provider, { instanceId: 'i2', name: 'flaky', input: null });
  const w = worker(provider, [flaky]);
  const result = await nextResult(provider, 'i2');
  await w.stop(1_000);
  assert.is(result.kind, 'activityCompleted');
  assert.equal(attempts, [1, 2, 3]);
});

test('after the last attempt the failure is acked as activityFailed with the error', async () => {
  const provider = new MemoryProvider();
  let runs = 0;
  const broken = defineActivity('broken', async () => {
    runs += 1;
    throw new TypeError('always broken');
  }, { retry: { maxAttempts: 2, ...fast } });
  await seedWorkItem(provider, { instanceId: 'i3', name: 'broken', input: null, activityId: 'b' });
  const w = worker(provider, [broken]);
  const result = await nextResult(provider, 'i3');
  await w.stop(1_000);
  assert.is(runs, 2);
  assert.is(result.kind, 'activityFailed');
  const payload = result.payload as { activityId: string; error: { name: string; message: string } };
  assert.is(payload.activityId, 'b');
  assert.is(payload.error.name, 'TypeError');
  assert.is(payload.error.message, 'always broken');
  assert.is((await provider.queueDepths()).deadLetters, 0);
});

test('the runtime maxAttempts caps an activity whose policy allows more', async () => {
  const provider = new MemoryProvider();
  let runs = 0;
  const broken = defineActivity('capped', async () => {
    runs += 1;
    throw new Error('no');
  }, { retry: { maxAttempts: 50, ...fast } });
  await seedWorkItem(provider, { instanceId: 'i3b', name: 'capped', input: null });
  const w = worker(provider, [broken], { maxAttempts: 3 });
  const result = await nextResult(provider, 'i3b');
  await w.stop(1_000);
  assert.is(result.kind, 'activityFailed');
  assert.is(runs, 3);
});

test('timeoutMs aborts the signal and counts as a failed attempt', async () => {
  const provider = new MemoryProvider();
  const reasons: unknown[] = [];
  const slow = defineActivity('slow', (_: Json, ctx) => new Promise<Json>((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => {
      reasons.push(ctx.signal.reason);
      reject(ctx.signal.reason);
    });
  }), { timeoutMs: 30, retry: { maxAttempts: 2, ...fast } });
  await seedWorkItem(provider, { instanceId: 'i4', name: 'slow', input: null });
  const w = worker(provider, [slow]);
  const result = await nextResult(provider, 'i4');
  await w.stop(1_000);
  assert.is(result.kind, 'activityFailed');
  assert.is(reasons.length, 2);
  assert.ok(reasons.every((r) => r instanceof ActivityTimeoutError));
  assert.is((result.payload as { error: { code: string } }).error.code, 'ACTIVITY_TIMEOUT');
});

test('an output that is not JSON-safe is a failed attempt (NotJsonSafeError)', async () => {
  const provider = new MemoryProvider();
  const dated = defineActivity('dated', async () => ({ at: new Date() }) as unknown as Json, { retry: { maxAttempts: 1 } });
  await seedWorkItem(provider, { instanceId: 'i5', name: 'dated', input: null });
  const w = worker(provider, [dated]);
  const result = await nextResult(provider, 'i5');
  await w.stop(1_000);
  assert.is(result.kind, 'activityFailed');
  assert.is((result.payload as { error: { code: string } }).error.code, 'NOT_JSON_SAFE');
});

test('a lost lock aborts the signal with LockLostError and that attempt\'s result is discarded', async () => {
  const clock = new ManualClock();
  const provider = new MemoryProvider({ clock });
  const reasons: unknown[] = [];
  const stuck = defineActivity('stuck', (_: Json, ctx) => new Promise<Json>((resolve) => {
    if (ctx.attempt > 1) return resolve('second');
    // The lock (lockMs 60) expires while the first attempt runs; it then "finishes" anyway.
    ctx.signal.addEventListener('abort', () => {
      reasons.push(ctx.signal.reason);
      resolve('first');
    });
    clock.advance(1_000);
  }));
  await seedWorkItem(provider, { instanceId: 'i6', name: 'stuck', input: null });
  const w = worker(provider, [stuck], { lockMs: 60 });
  const result = await nextResult(provider, 'i6');
  await w.stop(1_000);
  assert.is(reasons.length, 1);
  assert.instance(reasons[0], LockLostError);
  assert.equal(result.payload, { activityId: 'act', output: 'second' }, 'only the attempt holding the lock reported');
  const depths = await provider.queueDepths();
  assert.is(depths.orchestrator.visible + depths.orchestrator.locked, 0, 'exactly one result was enqueued');
});

test('an activity this process does not have is abandoned, not failed, and not counted', async () => {
  const clock = new ManualClock();
  const provider = new MemoryProvider({ clock });
  await seedWorkItem(provider, { instanceId: 'i7', name: 'elsewhere', input: null });
  const w = worker(provider, []);
  // The item becomes invisible (abandoned with a delay) once the worker has looked at it.
  for (let depths = await provider.queueDepths(); depths.worker.delayed === 0; depths = await provider.queueDepths()) {
    await new Promise((r) => setImmediate(r));
  }
  await w.stop(1_000);
  assert.is((await provider.queueDepths()).orchestrator.visible, 0, 'no failure was reported');
  clock.advance(60_000);
  const [item] = await provider.fetchWorkItems({ lockMs: 1_000 });
  assert.is(item?.name, 'elsewhere');
  assert.is(item?.attempt, 1, 'the abandoned fetch did not count');
});

test('a crash-looping item (fetched more than maxAttempts times) is acked as failed and dead-lettered', async () => {
  const clock = new ManualClock();
  const provider = new MemoryProvider({ clock });
  let runs = 0;
  const crashy = defineActivity('crashy', async () => {
    runs += 1;
    return null;
  });
  await seedWorkItem(provider, { instanceId: 'i8', name: 'crashy', input: null });
  // Three fetches whose holders "crash": the lock simply expires each time.
  for (let i = 0; i < 3; i++) {
    assert.is((await provider.fetchWorkItems({ lockMs: 10 })).length, 1);
    clock.advance(11);
  }
  const w = worker(provider, [crashy], { maxAttempts: 3 });
  const result = await nextResult(provider, 'i8');
  await w.stop(1_000);
  assert.is(runs, 0, 'the poisoned item is not run again');
  assert.is(result.kind, 'activityFailed');
  assert.is((result.payload as { error: { code: string } }).error.code, 'POISON_MESSAGE');
  const dead = await provider.listDeadLetters();
  assert.is(dead.items.length, 1);
  assert.is(dead.items[0]?.queue, 'worker');
});

test('a fan-out batch runs its elements at once, retries a failed one itself, and acks every verdict in one message in element order', async () => {
  const provider = new MemoryProvider();
  const runs: Array<[string, number]> = [];
  let running = 0;
  let mostAtOnce = 0;
  const square = defineActivity('square', async (n: number, ctx) => {
    runs.push([ctx.activityId, ctx.attempt]);
    mostAtOnce = Math.max(mostAtOnce, ++running);
    await new Promise((resolve) => setTimeout(resolve, 5));
    running -= 1;
    if (n === 4 && ctx.attempt === 1) throw new Error('first attempt of 4 fails');
    if (n === 5) throw new Error('5 always fails');
    return n * n;
  }, { retry: { maxAttempts: 2, ...fast } });
  const batch = { fanOutId: 'all#1', first: 2, inputs: [3, 4, 5] };
  await seedWorkItem(provider, { instanceId: 'ib', name: 'square', input: null, activityId: 'all#1[2..4]', payload: { batch } });
  const w = worker(provider, [square]);
  const result = await nextResult(provider, 'ib');
  await w.stop(1_000);
  assert.is(result.kind, 'activityResults');
  const results = (result.payload as { results: Array<{ kind: string; payload: { activityId: string; output?: number; error?: { message: string } } }> }).results;
  assert.equal(results.map((r) => [r.kind, r.payload.activityId, r.payload.output ?? r.payload.error!.message]), [
    ['activityCompleted', 'all#1[2]', 9],
    ['activityCompleted', 'all#1[3]', 16],
    ['activityFailed', 'all#1[4]', '5 always fails'],
  ]);
  assert.equal(runs.sort(), [['all#1[2]', 1], ['all#1[3]', 1], ['all#1[3]', 2], ['all#1[4]', 1], ['all#1[4]', 2]]);
  assert.is(mostAtOnce, 3, 'the elements ran at once');
  assert.is((await provider.queueDepths()).deadLetters, 0);
});

test('a crash-looping fan-out batch is acked with a poison failure for each of its elements and dead-lettered', async () => {
  const clock = new ManualClock();
  const provider = new MemoryProvider({ clock });
  let runs = 0;
  const crashy = defineActivity('crashy-batch', async () => {
    runs += 1;
    return null;
  });
  await seedWorkItem(provider, { instanceId: 'ic', name: 'crashy-batch', input: null, activityId: 'all#1[0..1]', payload: { batch: { fanOutId: 'all#1', first: 0, inputs: [1, 2] } } });
  for (let i = 0; i < 3; i++) {
    assert.is((await provider.fetchWorkItems({ lockMs: 10 })).length, 1);
    clock.advance(11);
  }
  const w = worker(provider, [crashy], { maxAttempts: 3 });
  const result = await nextResult(provider, 'ic');
  await w.stop(1_000);
  assert.is(runs, 0, 'the poisoned batch is not run again');
  assert.is(result.kind, 'activityResults');
  const results = (result.payload as { results: Array<{ kind: string; payload: { activityId: string; error: { code: string } } }> }).results;
  assert.equal(results.map((r) => [r.kind, r.payload.activityId, r.payload.error.code]), [
    ['activityFailed', 'all#1[0]', 'POISON_MESSAGE'],
    ['activityFailed', 'all#1[1]', 'POISON_MESSAGE'],
  ]);
  assert.is((await provider.listDeadLetters()).items.length, 1);
});

test('shutdown lets in-flight work that finishes within the grace period report its result', async () => {
  const provider = new MemoryProvider();
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => (finish = resolve));
  const gated = defineActivity('gated', async () => {
    started();
    await gate;
    return 'finished during shutdown';
  });
  await seedWorkItem(provider, { instanceId: 'i10', name: 'gated', input: null });
  const w = worker(provider, [gated]);
  await running;
  const stopped = w.stop(10_000);
  finish();
  await stopped;
  const result = await nextResult(provider, 'i10');
  assert.equal(result.payload, { activityId: 'act', output: 'finished during shutdown' });
});

test('shutdown waits for in-flight work within the grace period, then abandons it uncounted', async () => {
  const provider = new MemoryProvider();
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let signal: AbortSignal | undefined;
  const endless = defineActivity('endless', (_: Json, ctx) => {
    signal = ctx.signal;
    started();
    return new Promise<Json>(() => {}); // ignores its signal: shutdown must not wait for it
  });
  await seedWorkItem(provider, { instanceId: 'i9', name: 'endless', input: null });
  const w = worker(provider, [endless]);
  await running;
  await w.stop(20);
  assert.ok(signal?.aborted, 'the activity was told to stop');
  const [item] = await provider.fetchWorkItems({ lockMs: 1_000 });
  assert.is(item?.attempt, 1, 'the interrupted attempt was not counted');
});

test("a batch whose lock is lost aborts every element's signal and reports nothing; the batch is run again, whole", async () => {
  const clock = new ManualClock();
  const provider = new MemoryProvider({ clock });
  const reasons: unknown[] = [];
  const stuck = defineActivity('stuck-batch', (n: number, ctx) => new Promise<Json>((resolve) => {
    if (ctx.attempt > 1) return resolve(n);
    ctx.signal.addEventListener('abort', () => {
      reasons.push(ctx.signal.reason);
      resolve(-n);
    });
    if (n === 2) clock.advance(1_000); // the batch's lock (lockMs 60) expires while both run
  }));
  await seedWorkItem(provider, { instanceId: 'id', name: 'stuck-batch', input: null, activityId: 'all#1[0..1]', payload: { batch: { fanOutId: 'all#1', first: 0, inputs: [1, 2] } } });
  const w = worker(provider, [stuck], { lockMs: 60 });
  const result = await nextResult(provider, 'id');
  await w.stop(1_000);
  assert.is(reasons.length, 2);
  for (const reason of reasons) assert.instance(reason, LockLostError);
  assert.equal(result.payload, { results: [
    { kind: 'activityCompleted', payload: { activityId: 'all#1[0]', output: 1 } },
    { kind: 'activityCompleted', payload: { activityId: 'all#1[1]', output: 2 } },
  ] }, 'only the run holding the lock reported');
  const depths = await provider.queueDepths();
  assert.is(depths.orchestrator.visible + depths.orchestrator.locked, 0, 'exactly one result message was enqueued');
});

test('shutdown gives up a batch still running after the grace period: its elements are told to stop and the batch is abandoned uncounted', async () => {
  const provider = new MemoryProvider();
  const signals: AbortSignal[] = [];
  const endless = defineActivity('endless-batch', (_: number, ctx) => {
    signals.push(ctx.signal);
    return new Promise<Json>(() => {});
  });
  await seedWorkItem(provider, { instanceId: 'ie', name: 'endless-batch', input: null, activityId: 'all#1[0..2]', payload: { batch: { fanOutId: 'all#1', first: 0, inputs: [1, 2, 3] } } });
  const w = worker(provider, [endless]);
  while (signals.length < 3) await new Promise((resolve) => setTimeout(resolve, 1));
  await w.stop(20);
  assert.ok(signals.every((signal) => signal.aborted), 'every element was told to stop');
  const [item] = await provider.fetchWorkItems({ lockMs: 1_000 });
  assert.equal([item?.activityId, item?.attempt], ['all#1[0..2]', 1], 'the interrupted batch was not counted');
});

test('result dispatch: with a free orchestration slot the ack locks the result\'s instance and fills the slot with its turn; without one the result waits for a fetch', async () => {
  const provider = new MemoryProvider();
  const echo = defineActivity('echo', async (input: Json) => input);
  await seedWorkItem(provider, { instanceId: 'slot', name: 'echo', input: 1, activityId: 'a1' });
  const filled: Array<readonly OrchestrationItem[]> = [];
  let offered = 0;
  let handedOver!: () => void;
  const firstAcked = new Promise<void>((resolve) => (handedOver = resolve));
  const w = worker(provider, [echo], {
    // The first ack gets a slot, the second finds none free.
    orchestrationSlot: () => (offered++ === 0 ? { slots: 1, fill: (items) => { filled.push(items); handedOver(); } } : null),
  });
  await firstAcked;
  await seedWorkItem(provider, { instanceId: 'none', name: 'echo', input: 2, activityId: 'a2' });
  const left = await nextResult(provider, 'none');
  await w.stop(1_000);
  assert.is(offered, 2, 'one slot asked for per ack');
  assert.is(filled.length, 1, 'the reservation is filled exactly once');
  const [item] = filled[0]!;
  assert.is(filled[0]!.length, 1);
  assert.equal([item?.instanceId, item?.messages.map((m) => [m.kind, m.payload])], ['slot', [['activityCompleted', { activityId: 'a1', output: 1 }]]]);
  assert.is(item!.lockedUntil, item!.now + 30_000, 'locked for the dispatcher\'s lockMs');
  assert.equal(left.payload, { activityId: 'a2', output: 2 });
  assert.equal((await provider.fetchOrchestrationItems({ lockMs: 1_000, max: 10 })).map((i) => i.instanceId), [], 'the handed-over instance stays locked to its holder');
});

test.run();
