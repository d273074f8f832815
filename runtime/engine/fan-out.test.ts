/**
 * fanOut(): one invoked actor that runs an activity once per input element. The machine hears
 * nothing until the fan-out is finished: then one done event with the outputs in input order (or,
 * when an element fails for good, one error event naming the element, and the other elements
 * cancelled); with settle, every element's outcome. An empty input finishes at once. Replays
 * rebuild the same snapshot.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from 'xstate';
import type { Json } from '../../providers/contract.js';
import { defineActivity, defineOrchestration, fanOut, type FanOutSettled } from '../index.js';
import { createRegistry } from '../definitions/registry.js';
import { replayHistory } from './replay.js';
import { gatherMachine } from './test-machines.js';
import { expectCommit, TestInstance } from './test-support.js';

const T0 = 1_700_000_000_000;
const double = defineActivity('double', async (n: number) => n * 2, { retry: { maxAttempts: 1 } });

type Ctx = { outputs: Json; error: Json; ids: string[] };
const all = defineOrchestration('fan-all', gatherMachine(fanOut(double)));
const settled = defineOrchestration('fan-settled', gatherMachine(fanOut(double, { settle: true })));
const registry = createRegistry([all, settled]);

function started(name: string, id: string, input: number[]) {
  const inst = new TestInstance(id, registry);
  const first = expectCommit(inst.turn([inst.message('start', { name, input })], T0));
  return { inst, first };
}
const completed = (inst: TestInstance, activityId: string, output: Json) => inst.message('activityCompleted', { activityId, output }, { executionId: 1 });
const failed = (inst: TestInstance, activityId: string) =>
  inst.message('activityFailed', { activityId, error: { name: 'Error', message: `${activityId} broke` } }, { executionId: 1 });
const pendingOf = (inst: TestInstance) => (inst.record!.snapshot as { pending: { activities: Record<string, unknown>; fanOuts?: Record<string, unknown> } }).pending;

test('one work item per element; the machine hears nothing until the last result, then gets the outputs in input order', () => {
  const { inst, first } = started('fan-all', 'f1', [1, 2, 3]);
  assert.equal(first.delta.workItems.map((w) => [w.activityId, (w.payload as { input: number }).input]), [['all#1[0]', 1], ['all#1[1]', 2], ['all#1[2]', 3]]);
  assert.equal(Object.keys((inst.record!.snapshot as { machine: { children: object } }).machine.children), ['all'], 'one child for the whole fan-out');

  const partial = expectCommit(inst.turn([completed(inst, 'all#1[2]', 6), completed(inst, 'all#1[0]', 2)], T0 + 10));
  assert.is(partial.delta.instance.stateValue, 'fanning');
  assert.equal(partial.delta.history.map((h) => h.type), ['event', 'event'], 'results are recorded, the machine does not step');

  const last = expectCommit(inst.turn([completed(inst, 'all#1[1]', 4)], T0 + 20));
  assert.is(last.delta.instance.status, 'completed');
  assert.equal((last.delta.instance.output as { outputs: Json }).outputs, [2, 4, 6]);
  assert.equal(pendingOf(inst), { activities: {}, timers: {}, children: {} }, 'nothing left over; no fanOuts key once none collects');
  assert.equal(replayHistory(all, inst.history).snapshot, inst.record!.snapshot);
});

test('the first element that fails for good ends the fan-out with its error and index, and cancels the other elements', () => {
  const { inst } = started('fan-all', 'f2', [1, 2, 3, 4]);
  expectCommit(inst.turn([completed(inst, 'all#1[0]', 2)], T0 + 10));
  const end = expectCommit(inst.turn([failed(inst, 'all#1[2]'), completed(inst, 'all#1[3]', 8)], T0 + 20));
  assert.is(end.delta.instance.stateValue, 'failed');
  assert.equal((end.delta.instance.output as { error: Json }).error, { name: 'Error', message: 'all#1[2] broke', index: 2 });
  assert.equal([...end.delta.cancelActivities].sort(), ['all#1[1]', 'all#1[3]']);
  const dropped = inst.executionHistory().filter((h) => h.type === 'dropped');
  assert.is(dropped.length, 1, "the cancelled element's late result is dropped, not applied");
  assert.equal(replayHistory(all, inst.history).snapshot, inst.record!.snapshot);
});

test('settle waits for every element and reports each outcome in input order', () => {
  const { inst } = started('fan-settled', 'f3', [5, 6, 7]);
  expectCommit(inst.turn([failed(inst, 'all#1[1]')], T0 + 10));
  assert.is(inst.record!.stateValue, 'fanning', 'a failed element does not end a settling fan-out');
  const last = expectCommit(inst.turn([completed(inst, 'all#1[2]', 14), completed(inst, 'all#1[0]', 10)], T0 + 20));
  const outcomes: Array<FanOutSettled<number>> = [
    { status: 'fulfilled', value: 10 },
    { status: 'rejected', reason: { name: 'Error', message: 'all#1[1] broke' } },
    { status: 'fulfilled', value: 14 },
  ];
  assert.equal((last.delta.instance.output as { outputs: Json }).outputs, outcomes);
  assert.equal(replayHistory(settled, inst.history).snapshot, inst.record!.snapshot);
});

test('an empty input finishes in the same turn with [], and that further step draws its own uuid()s', () => {
  const { inst, first } = started('fan-all', 'f4', []);
  assert.is(first.delta.workItems.length, 0);
  assert.is(first.delta.instance.status, 'completed');
  assert.equal((first.delta.instance.output as { outputs: Json }).outputs, []);
  const ids = (first.delta.instance.context as Ctx).ids;
  assert.is(ids.length, 2);
  assert.is.not(ids[0], ids[1], 'the follow-up step is seeded apart from the start step');
  assert.equal(replayHistory(all, inst.history).snapshot, inst.record!.snapshot);
});

test('leaving the invoking state cancels every outstanding element', () => {
  const { inst } = started('fan-all', 'f5', [1, 2, 3]);
  expectCommit(inst.turn([completed(inst, 'all#1[1]', 4)], T0 + 10));
  const end = expectCommit(inst.turn([inst.message('event', { type: 'CANCEL' })], T0 + 20));
  assert.is(end.delta.instance.stateValue, 'cancelled');
  assert.equal([...end.delta.cancelActivities].sort(), ['all#1[0]', 'all#1[2]']);
  assert.equal(pendingOf(inst), { activities: {}, timers: {}, children: {} });
});

test('an input that is not an array fails the instance with MACHINE_CODE, naming the fan-out', () => {
  const odd = defineOrchestration('fan-odd', setup({ actors: { all: fanOut(double) } }).createMachine({
    initial: 'fanning',
    states: { fanning: { invoke: { id: 'all', src: 'all', input: 3 as never } } },
  }));
  const inst = new TestInstance('f6', createRegistry([odd]));
  const outcome = expectCommit(inst.turn([inst.message('start', { name: 'fan-odd', input: null })], T0));
  assert.is(outcome.delta.instance.status, 'failed');
  assert.is(outcome.delta.instance.error?.code, 'MACHINE_CODE');
  assert.match(outcome.delta.instance.error!.message, "fan-out 'all'");
  assert.is(outcome.delta.workItems.length, 0);
});

test.run();
