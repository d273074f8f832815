/** Activities end to end on PostgreSQL: results, retries, exhausted retries, timeouts, cancellation, unknown activities. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup } from 'xstate';
import type { Json } from '../../providers/contract.js';
import { LockLostError } from '../../providers/errors.js';
import { activity, defineActivity, defineOrchestration } from '../definitions/index.js';
import { useHarness } from './support/harness.js';
import { logWatcher } from './support/log-watcher.js';

const h = useHarness(test);

const fast = { initialMs: 10, maxMs: 50, backoff: 2, jitter: 0 };

/** One activity invoked once; its output (or error) becomes the instance's output. */
function callOnce(name: string, act: ReturnType<typeof defineActivity<Json, Json>>) {
  return defineOrchestration(name, setup({
    types: {} as { input: Json; context: { input: Json; result: Json; error: Json }; output: { result: Json; error: Json } },
    actors: { act: activity(act) },
  }).createMachine({
    context: ({ input }) => ({ input, result: null, error: null }),
    initial: 'working',
    states: {
      working: {
        invoke: {
          id: 'act',
          src: 'act',
          input: ({ context }) => context.input,
          onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output as Json }) },
          onError: { target: 'done', actions: assign({ error: ({ event }) => event.error as Json }) },
        },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => ({ result: context.result, error: context.error }),
  }));
}

test('an activity runs and its output reaches the machine', async () => {
  const double = defineActivity('double', async (input: Json) => ({ doubled: (input as { n: number }).n * 2 }));
  const def = callOnce('double-once', double);
  await h.runtime({ orchestrations: [def], activities: [double] });
  const { instanceId } = await h.client.start(def, { n: 21 });
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { result: { doubled: 42 }, error: null });
});

test('activities concurrency 1 is a limit: with turns handing their activities over eagerly while the worker long-polls, never two run at once', async () => {
  let running = 0;
  let most = 0;
  const exclusive = defineActivity('exclusive', async (input: Json) => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, 5));
    running -= 1;
    return input;
  });
  const def = callOnce('exclusive-once', exclusive);
  await h.runtime({ orchestrations: [def], activities: [exclusive], concurrency: { orchestrations: 4, activities: 1 } });
  const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => h.client.start(def, i).then((r) => r.instanceId)));
  for (const id of ids) assert.is((await h.client.waitForCompletion(id, { timeoutMs: 20_000 })).status, 'completed');
  assert.is(most, 1);
});

test('a failing activity is retried and its eventual success applied once', async () => {
  const attempts: number[] = [];
  const flaky = defineActivity('flaky', async (_: Json, ctx) => {
    attempts.push(ctx.attempt);
    if (ctx.attempt < 3) throw new Error(`transient ${ctx.attempt}`);
    return 'third time lucky';
  }, { retry: { maxAttempts: 5, ...fast } });
  const def = callOnce('flaky-once', flaky);
  await h.runtime({ orchestrations: [def], activities: [flaky] });
  const { instanceId } = await h.client.start(def, null);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.equal(final.output, { result: 'third time lucky', error: null });
  assert.equal(attempts, [1, 2, 3]);
  const applied = [];
  for await (const e of h.client.history(instanceId)) if (e.type === 'event' && (e.data as { kind: string }).kind.startsWith('activity')) applied.push(e);
  assert.is(applied.length, 1, 'one result applied');
});

test('when retries are exhausted the machine receives xstate.error.actor with the error', async () => {
  let runs = 0;
  const doomed = defineActivity('doomed', async () => {
    runs += 1;
    throw new RangeError('out of range');
  }, { retry: { maxAttempts: 3, ...fast } });
  const def = callOnce('doomed-once', doomed);
  await h.runtime({ orchestrations: [def], activities: [doomed] });
  const { instanceId } = await h.client.start(def, null);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(runs, 3);
  const error = (final.output as { error: { name: string; message: string } }).error;
  assert.is(error.name, 'RangeError');
  assert.is(error.message, 'out of range');
});

test('an activity that exceeds timeoutMs is aborted and fails with ACTIVITY_TIMEOUT', async () => {
  const reasons: unknown[] = [];
  const hang = defineActivity('hang', (_: Json, ctx) => new Promise<Json>((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => (reasons.push(ctx.signal.reason), reject(ctx.signal.reason)));
  }), { timeoutMs: 50, retry: { maxAttempts: 2, ...fast } });
  const def = callOnce('hang-once', hang);
  await h.runtime({ orchestrations: [def], activities: [hang] });
  const { instanceId } = await h.client.start(def, null);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(reasons.length, 2, 'each attempt was aborted');
  assert.is((final.output as { error: { code: string } }).error.code, 'ACTIVITY_TIMEOUT');
});

test('leaving the invoking state cancels the activity: its lock is lost and its signal aborts', async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let aborted!: (reason: unknown) => void;
  const abortReason = new Promise<unknown>((resolve) => (aborted = resolve));
  const wait = defineActivity('wait-for-cancel', (_: Json, ctx) => new Promise<Json>((resolve) => {
    ctx.signal.addEventListener('abort', () => {
      aborted(ctx.signal.reason);
      resolve('finished anyway'); // must be discarded: the lock is gone
    });
    started();
  }));
  const def = defineOrchestration('cancellable', setup({
    types: {} as { events: { type: 'STOP' } },
    actors: { wait: activity(wait) },
  }).createMachine({
    initial: 'working',
    states: {
      working: { invoke: { id: 'wait', src: 'wait', input: null, onDone: 'finished' }, on: { STOP: 'stopped' } },
      finished: { type: 'final' },
      stopped: { type: 'final' },
    },
  }));
  // lockMs 300: the worker renews every 100 ms, so it notices the cancellation quickly.
  await h.runtime({ orchestrations: [def], activities: [wait], lockMs: 300 });
  const { instanceId } = await h.client.start(def, null);
  await running;
  await h.client.raiseEvent(instanceId, { type: 'STOP' });
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.stateValue, 'stopped');
  assert.instance(await abortReason, LockLostError);
  const depths = await h.provider.queueDepths();
  assert.is(depths.worker.visible + depths.worker.locked + depths.worker.delayed, 0, 'the work item is gone');
  assert.is(depths.orchestrator.visible + depths.orchestrator.locked, 0, 'no late result was enqueued');
});

test('an activity this process does not have is abandoned, not failed; a process that has it runs it', async () => {
  const attempts: number[] = [];
  const rare = defineActivity('rare', async (_: Json, ctx) => (attempts.push(ctx.attempt), 'ran elsewhere'));
  const def = callOnce('rare-once', rare);
  const watcher = logWatcher();
  await h.runtime({ orchestrations: [def], activities: [], logger: watcher.logger, unknownDefinitionDelayMs: 200 });
  const { instanceId } = await h.client.start(def, null);
  await watcher.waitFor('activity not registered in this process; leaving it for another', { instanceId });
  assert.is((await h.client.getStatus(instanceId))?.status, 'running', 'not failed');
  await h.runtime({ orchestrations: [def], activities: [rare] });
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.equal(final.output, { result: 'ran elsewhere', error: null });
  assert.equal(attempts, [1], 'the abandoned fetches did not count as attempts');
});

test.run();
