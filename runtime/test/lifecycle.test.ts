/** Continue-as-new, terminate, suspend/resume and orchestrations unknown to a process, end to end on PostgreSQL. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup } from 'xstate';
import type { Json } from '../../providers/contract.js';
import { LockLostError } from '../../providers/errors.js';
import { activity, continueAsNew, defineActivity, defineOrchestration, orchestration } from '../definitions/index.js';
import { useHarness } from './support/harness.js';
import { logWatcher } from './support/log-watcher.js';
import { waitUntil } from './support/wait-until.js';

const h = useHarness(test);

test('continue-as-new restarts history under the same id and carries over events raised meanwhile', async () => {
  const counter = defineOrchestration('counter', setup({
    types: {} as { input: { n: number }; context: { n: number }; events: { type: 'NEXT' }; output: { n: number } },
  }).createMachine({
    context: ({ input }) => ({ n: input.n }),
    initial: 'check',
    states: {
      check: { always: [{ guard: ({ context }) => context.n >= 3, target: 'done' }, { target: 'waiting' }] },
      waiting: { on: { NEXT: { actions: continueAsNew(({ context }) => ({ n: context.n + 1 })) } } },
      done: { type: 'final' },
    },
    output: ({ context }) => ({ n: context.n }),
  }));
  await h.runtime({ orchestrations: [counter] });
  const { instanceId } = await h.client.start(counter, { n: 0 }, { instanceId: 'counter-1' });
  await waitUntil(h.provider, instanceId, (r) => r.status === 'running');
  // Raised back to back: a turn that applies one NEXT continues as new and must carry the
  // others (fetched in the same batch, or arriving meanwhile) over to the next execution.
  for (let i = 0; i < 3; i++) await h.client.raiseEvent(instanceId, { type: 'NEXT' });
  const final = await h.client.waitForCompletion<typeof counter>(instanceId, { timeoutMs: 20_000 });
  assert.is(final.instanceId, 'counter-1');
  assert.equal(final.output, { n: 3 });
  assert.is(final.executionId, 4);
  const types: string[] = [];
  for await (const e of h.client.history(instanceId)) types.push(e.type);
  assert.is(types[0], 'started', 'the current execution\'s history starts afresh');
  const first: Array<{ seq: number; type: string }> = [];
  for await (const e of h.client.history(instanceId, { executionId: 1 })) first.push({ seq: e.seq, type: e.type });
  assert.is(first[0]?.type, 'started');
  assert.ok(first.some((e) => e.type === 'continuedAsNew'), 'execution 1 ended by continuing as new');
});

test('continue-as-new in the first turn, twice over: start and the triggering event in one batch make one ack', async () => {
  // Round 0 waits for GO and continues; round 1 continues again at once; round 2 completes.
  const relay = defineOrchestration('relay', setup({
    types: {} as { input: { round: number }; context: { round: number }; events: { type: 'GO' }; output: { round: number } },
  }).createMachine({
    context: ({ input }) => ({ round: input.round }),
    initial: 'entered',
    states: {
      entered: {
        always: [
          { guard: ({ context }) => context.round === 1, target: 'passed', actions: continueAsNew(({ context }) => ({ round: context.round + 1 })) },
          { guard: ({ context }) => context.round >= 2, target: 'done' },
          { target: 'waiting' },
        ],
      },
      waiting: { on: { GO: { target: 'passed', actions: continueAsNew(({ context }) => ({ round: context.round + 1 })) } } },
      passed: {},
      done: { type: 'final' },
    },
    output: ({ context }) => ({ round: context.round }),
  }));
  // Both queued before any dispatcher runs: the first fetch hands them out together.
  const { instanceId } = await h.client.start(relay, { round: 0 }, { instanceId: 'relay-1' });
  await h.client.raiseEvent(instanceId, { type: 'GO' });
  await h.runtime({ orchestrations: [relay] });
  const final = await h.client.waitForCompletion<typeof relay>(instanceId, { timeoutMs: 20_000 });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { round: 2 });
  assert.is(final.executionId, 3);
  assert.is((await h.provider.getInstance(instanceId))?.turns, 1, 'one turn, committed by one ack');
  const historyOf = async (executionId: number) => {
    const entries: Array<[string, Json]> = [];
    for await (const e of h.client.history(instanceId, { executionId })) {
      const data = e.data as { input?: Json; payload?: { type?: string } };
      entries.push([e.type, e.type === 'started' ? data.input ?? null : e.type === 'event' ? data.payload?.type ?? null : null]);
    }
    return entries;
  };
  const [first, second, third] = [await historyOf(1), await historyOf(2), await historyOf(3)];
  assert.equal(first, [['started', { round: 0 }], ['event', 'GO'], ['command', null], ['continuedAsNew', null]]);
  assert.equal(second, [['started', { round: 1 }], ['command', null], ['continuedAsNew', null]]);
  assert.equal(third.slice(0, 1), [['started', { round: 2 }]]);
  assert.ok(!third.some(([type]) => type === 'continuedAsNew'), 'the last execution completed');
});

test('terminate cancels outstanding activities, timers and children', async () => {
  // Parent and child each run one endless activity: their starts tell the test both exist.
  const startedBy: string[] = [];
  let bothStarted!: () => void;
  const running = new Promise<void>((resolve) => (bothStarted = resolve));
  const abortReasons: unknown[] = [];
  let bothAborted!: () => void;
  const aborted = new Promise<void>((resolve) => (bothAborted = resolve));
  const work = defineActivity('endless-work', (_: Json, ctx) => new Promise<Json>(() => {
    ctx.signal.addEventListener('abort', () => {
      abortReasons.push(ctx.signal.reason);
      if (abortReasons.length === 2) bothAborted();
    });
    startedBy.push(ctx.instanceId);
    if (startedBy.length === 2) bothStarted();
  }));
  const idle = defineOrchestration('idle-child', setup({ actors: { work: activity(work) } }).createMachine({
    initial: 'idle',
    states: { idle: { invoke: { id: 'work', src: 'work', input: null, onDone: 'done' } }, done: { type: 'final' } },
  }));
  const busy = defineOrchestration('busy', setup({ actors: { work: activity(work), child: orchestration('idle-child') } }).createMachine({
    initial: 'busy',
    states: {
      busy: {
        invoke: [
          { id: 'work', src: 'work', input: null, onDone: 'done' },
          { id: 'child', src: 'child', input: null, onDone: 'done' },
        ],
        after: { 3_600_000: 'done' },
      },
      done: { type: 'final' },
    },
  }));
  await h.runtime({ orchestrations: [busy, idle], activities: [work], lockMs: 300 });
  const { instanceId } = await h.client.start(busy, null);
  await running;
  const childId = startedBy.find((id) => id !== instanceId)!;
  assert.is((await h.provider.getInstance(childId))?.parent?.instanceId, instanceId);
  await h.client.terminate(instanceId, 'enough');
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.status, 'terminated');
  assert.is(final.error?.code, 'TERMINATED');
  assert.is((await h.client.waitForCompletion(childId, { timeoutMs: 20_000 })).status, 'terminated');
  await aborted;
  assert.ok(abortReasons.every((r) => r instanceof LockLostError), 'both activities were cancelled');
  const depths = await h.provider.queueDepths();
  assert.equal(depths.worker, { visible: 0, delayed: 0, locked: 0 }, 'the activities are gone');
  assert.is(depths.orchestrator.delayed, 0, 'the timer is gone');
});

test('suspend holds messages without losing them; resume applies them', async () => {
  const tally = defineOrchestration('tally', setup({
    types: {} as { context: { count: number }; events: { type: 'COUNT' } | { type: 'DONE' }; output: { count: number } },
  }).createMachine({
    context: { count: 0 },
    initial: 'counting',
    states: {
      counting: { on: { COUNT: { actions: assign({ count: ({ context }) => context.count + 1 }) }, DONE: 'done' } },
      done: { type: 'final' },
    },
    output: ({ context }) => ({ count: context.count }),
  }));
  await h.runtime({ orchestrations: [tally] });
  const { instanceId } = await h.client.start(tally, null);
  await waitUntil(h.provider, instanceId, (r) => r.status === 'running');
  await h.client.suspend(instanceId, 'maintenance');
  await waitUntil(h.provider, instanceId, (r) => r.status === 'suspended');
  await h.client.raiseEvent(instanceId, { type: 'COUNT' });
  await h.client.raiseEvent(instanceId, { type: 'COUNT' });
  await h.client.raiseEvent(instanceId, { type: 'DONE' });
  const held = await h.client.getStatus<typeof tally>(instanceId);
  assert.is(held?.status, 'suspended');
  assert.equal(held?.context, { count: 0 }, 'nothing applied while suspended');
  await h.client.resume(instanceId);
  const final = await h.client.waitForCompletion<typeof tally>(instanceId, { timeoutMs: 20_000 });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { count: 2 }, 'every held message was applied after resume');
});

test('an orchestration this process does not have is abandoned, not failed; a process that has it runs it', async () => {
  const rare = defineOrchestration('rare-flow', setup({}).createMachine({ initial: 'done', states: { done: { type: 'final' } } }));
  const other = defineOrchestration('other-flow', setup({}).createMachine({ initial: 'done', states: { done: { type: 'final' } } }));
  const watcher = logWatcher();
  await h.runtime({ orchestrations: [other], logger: watcher.logger, unknownDefinitionDelayMs: 200 });
  const { instanceId } = await h.client.start('rare-flow', null);
  await watcher.waitFor('turn abandoned: this process cannot run it', { instanceId });
  assert.is((await h.client.getStatus(instanceId))?.status, 'pending', 'not failed');
  await h.stopRuntimes();
  await h.runtime({ orchestrations: [rare] });
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.status, 'completed');
  assert.is(final.name, 'rare-flow');
});

test.run();
