/** Child orchestrations end to end on PostgreSQL: results and failures reach the parent; leaving the invoking state terminates the child, cascading. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup } from 'xstate';
import type { Json } from '../../providers/contract.js';
import { LockLostError } from '../../providers/errors.js';
import { activity, defineActivity, defineOrchestration, orchestration } from '../definitions/index.js';
import { useHarness } from './support/harness.js';

const h = useHarness(test);

/** Invokes `child` with the parent's input; records its output or error; CANCEL leaves the invoking state. */
function parentOf(name: string, child: string) {
  return defineOrchestration(name, setup({
    types: {} as { input: Json; context: { input: Json; output: Json; error: Json }; events: { type: 'CANCEL' } },
    actors: { child: orchestration(child) },
  }).createMachine({
    context: ({ input }) => ({ input, output: null, error: null }),
    initial: 'waiting',
    states: {
      waiting: {
        invoke: {
          id: 'kid',
          src: 'child',
          input: ({ context }) => context.input,
          onDone: { target: 'done', actions: assign({ output: ({ event }) => event.output as Json }) },
          onError: { target: 'done', actions: assign({ error: ({ event }) => event.error as Json }) },
        },
        on: { CANCEL: 'cancelled' },
      },
      done: { type: 'final' },
      cancelled: { type: 'final' },
    },
    output: ({ context }) => ({ output: context.output, error: context.error }),
  }));
}

test('a child\'s output reaches the parent', async () => {
  const squareReal = defineOrchestration('square-real', setup({ types: {} as { input: { n: number }; context: { n: number }; output: { squared: number } } }).createMachine({
    context: ({ input }) => ({ n: input.n }),
    initial: 'done',
    states: { done: { type: 'final' } },
    output: ({ context }) => ({ squared: context.n * context.n }),
  }));
  const parent = parentOf('square-parent', 'square-real');
  await h.runtime({ orchestrations: [parent, squareReal] });
  const { instanceId } = await h.client.start(parent, { n: 7 });
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.equal(final.output, { output: { squared: 49 }, error: null });
  const children = await h.client.list({ parentInstanceId: instanceId });
  assert.is(children.items.length, 1);
  assert.is(children.items[0]?.status, 'completed');
});

test('a child\'s failure reaches the parent as xstate.error.actor', async () => {
  const broken = defineActivity('child-broken', async () => {
    throw new Error('child could not do it');
  }, { retry: { maxAttempts: 1 } });
  const failing = defineOrchestration('failing-child', setup({ actors: { broken: activity(broken) } }).createMachine({
    initial: 'working',
    states: { working: { invoke: { id: 'broken', src: 'broken', input: null, onDone: 'done' } }, done: { type: 'final' } },
  }));
  const parent = parentOf('failing-parent', 'failing-child');
  await h.runtime({ orchestrations: [parent, failing], activities: [broken] });
  const { instanceId } = await h.client.start(parent, null);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.status, 'completed', 'the parent handled the failure');
  const error = (final.output as { error: { message: string } | null }).error;
  assert.ok(error, 'the parent received an error');
  const children = await h.client.list({ parentInstanceId: instanceId });
  assert.is(children.items[0]?.status, 'failed');
});

test('leaving the invoking state terminates the child, which terminates its own child and cancels its activity', async () => {
  let leafStarted!: (leafId: string) => void;
  const leafRunning = new Promise<string>((resolve) => (leafStarted = resolve));
  let leafAborted!: (reason: unknown) => void;
  const leafAbort = new Promise<unknown>((resolve) => (leafAborted = resolve));
  const leafWork = defineActivity('leaf-work', (_: Json, ctx) => new Promise<Json>(() => {
    ctx.signal.addEventListener('abort', () => leafAborted(ctx.signal.reason));
    leafStarted(ctx.instanceId);
  }));
  const leaf = defineOrchestration('leaf', setup({ actors: { work: activity(leafWork) } }).createMachine({
    initial: 'working',
    states: { working: { invoke: { id: 'work', src: 'work', input: null, onDone: 'done' } }, done: { type: 'final' } },
  }));
  const middle = parentOf('middle', 'leaf');
  const top = parentOf('top', 'middle');
  await h.runtime({ orchestrations: [top, middle, leaf], activities: [leafWork], lockMs: 300 });
  const { instanceId } = await h.client.start(top, null);
  const leafId = await leafRunning;
  await h.client.raiseEvent(instanceId, { type: 'CANCEL' });
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.stateValue, 'cancelled');
  const middleId = (await h.client.list({ parentInstanceId: instanceId })).items[0]!.instanceId;
  assert.is((await h.client.waitForCompletion(middleId, { timeoutMs: 20_000 })).status, 'terminated');
  assert.is((await h.client.waitForCompletion(leafId, { timeoutMs: 20_000 })).status, 'terminated');
  assert.is((await h.provider.getInstance(leafId))?.parent?.instanceId, middleId);
  assert.instance(await leafAbort, LockLostError, 'the leaf\'s activity was cancelled');
});

test.run();
