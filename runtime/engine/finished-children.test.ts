/**
 * A child whose result has been applied is removed from the machine's children (XState would keep
 * it until the machine ends, and every later step copied it: O(n²) for a fan-out). What is still
 * outstanding stays, a child re-spawned under the same id by the result's own step stays, and the
 * machine ends by cancelling exactly what is still outstanding.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, enqueueActions, setup } from 'xstate';
import { activity, defineActivity, defineOrchestration } from '../index.js';
import { createRegistry } from '../definitions/registry.js';
import { replayHistory } from './replay.js';
import { expectCommit, TestInstance } from './test-support.js';

const T0 = 1_700_000_000_000;
const job = activity(defineActivity('job', async (n: number) => n));

const fanMachine = setup({
  types: {} as { input: { width: number }; context: { width: number; got: number; rounds: number } },
  actors: { job },
}).createMachine({
  id: 'fan',
  context: ({ input }) => ({ width: input.width, got: 0, rounds: 0 }),
  initial: 'running',
  states: {
    running: {
      entry: enqueueActions(({ context, enqueue }) => {
        for (let i = 0; i < context.width; i++) enqueue.spawnChild('job', { id: `j${i}`, input: i });
      }),
      on: {
        'xstate.done.actor.j0': {
          // Re-spawns j0 once from the step that applies j0's first result.
          guard: ({ context }) => context.rounds === 0,
          actions: [assign({ rounds: 1, got: ({ context }) => context.got + 1 }), enqueueActions(({ enqueue }) => enqueue.spawnChild('job', { id: 'j0', input: 100 }))],
        },
        'xstate.done.actor.*': { actions: assign({ got: ({ context }) => context.got + 1 }) },
        STOP: 'done',
      },
    },
    done: { type: 'final' },
  },
});
const fan = defineOrchestration('fan', fanMachine);
const registry = createRegistry([fan]);

type Children = Record<string, unknown>;
const childrenOf = (inst: TestInstance) => Object.keys(((inst.record!.snapshot as { machine: { children: Children } }).machine.children)).sort();

test('applied results leave the children map; outstanding and re-spawned children stay; the end cancels only what is outstanding', () => {
  const inst = new TestInstance('fan-1', registry);
  const first = expectCommit(inst.turn([inst.message('start', { name: 'fan', input: { width: 4 } })], T0));
  const ids = Object.fromEntries(first.delta.workItems.map((w) => [w.activityId.split('#')[0]!, w.activityId]));
  assert.equal(childrenOf(inst), ['j0', 'j1', 'j2', 'j3']);

  const done = (activityId: string, output: number) => inst.message('activityCompleted', { activityId, output }, { executionId: 1 });
  const second = expectCommit(inst.turn([done(ids.j0!, 0), done(ids.j2!, 2)], T0 + 10));
  assert.equal(childrenOf(inst), ['j0', 'j1', 'j3'], 'j2 is gone; j0 is the new child spawned by its own result');
  const respawned = second.delta.workItems.map((w) => w.activityId);
  assert.is(respawned.length, 1);
  assert.ok(respawned[0]!.startsWith('j0#'));

  const last = expectCommit(inst.turn([done(ids.j1!, 1), inst.message('event', { type: 'STOP' })], T0 + 20));
  assert.is(last.delta.instance.status, 'completed');
  assert.equal([...last.delta.cancelActivities].sort(), [respawned[0]!, ids.j3!].sort(), 'exactly the outstanding activities are cancelled');
  assert.is((last.delta.instance.context as { got: number }).got, 3);

  const replayed = replayHistory(fan, inst.history);
  assert.equal(replayed.snapshot, inst.record!.snapshot, 'the replay removes the same children');
});

test.run();
