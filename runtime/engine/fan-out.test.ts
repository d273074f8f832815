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
import { runTurn } from './run-turn.js';
import { expectCommit, TEST_OPTIONS, TestInstance } from './test-support.js';

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

test('scheduling writes one history command for the whole fan-out, however wide', () => {
  const { first } = started('fan-all', 'f-hist', [5, 6, 7]);
  assert.equal(first.delta.history.map((h) => [h.seq, h.type, (h.data as { type?: string }).type ?? null]), [[0, 'started', null], [1, 'command', 'scheduleFanOut']]);
  const { options, ...command } = first.delta.history[1]!.data as Record<string, Json>;
  assert.equal(command, { type: 'scheduleFanOut', fanOutId: 'all#1', invokeId: 'all', name: 'double', inputs: [5, 6, 7] });
  assert.equal((options as { retry: { maxAttempts: number } }).retry.maxAttempts, 1, "the activity's own policy, once");
  assert.equal(first.delta.workItems.map((w) => w.payload), [5, 6, 7].map((input) => ({ input })), 'each work item carries its input (the worker reads the policy from its definition)');
});

/**
 * The commands as written before scheduleFanOut: one scheduleActivity per element. (They sit at the
 * command's seq here: a real such history numbered them on, and uuid() drew on the later events' own
 * seqs, which replay applies them at; what this checks is how the commands compare.)
 */
function perElementHistory(history: TestInstance['history']): TestInstance['history'] {
  return history.flatMap((h) => {
    const d = h.data as { type?: string; fanOutId?: string; invokeId?: string; name?: string; inputs?: Json[]; options?: Json };
    if (h.type !== 'command' || d.type !== 'scheduleFanOut') return [h];
    return d.inputs!.map((input, i) => ({ ...h, data: { type: 'scheduleActivity', activityId: `${d.fanOutId}[${i}]`, invokeId: d.invokeId!, name: d.name!, input, options: d.options! } }));
  });
}

test('a fan-out history written one scheduleActivity per element (before scheduleFanOut) replays to the same snapshot; a changed element does not', () => {
  const { inst } = started('fan-all', 'f-old', [1, 2, 3]);
  expectCommit(inst.turn([completed(inst, 'all#1[1]', 4)], T0 + 10));
  expectCommit(inst.turn([completed(inst, 'all#1[0]', 2), completed(inst, 'all#1[2]', 6)], T0 + 20));
  const old = perElementHistory(inst.history);
  assert.is(old.filter((h) => (h.data as { type?: string }).type === 'scheduleActivity').length, 3);
  assert.equal(replayHistory(all, old).snapshot, inst.record!.snapshot);
  const tampered = old.map((h) => ((h.data as { activityId?: string }).activityId === 'all#1[1]' ? { ...h, data: { ...(h.data as object), input: 99 } } : h));
  assert.throws(() => replayHistory(all, tampered), (err: Error) => err.name === 'NondeterminismError' && /command #1 differs/.test(err.message));
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

test("the stored snapshot keeps a fan-out's elements as one mask, not an entry each, and no child's input", () => {
  const { inst } = started('fan-all', 'f7', [1, 2, 3, 4]);
  expectCommit(inst.turn([completed(inst, 'all#1[1]', 4), completed(inst, 'all#1[3]', 8)], T0 + 10));
  assert.equal(pendingOf(inst).activities, {}, 'no pending.activities entry per element');
  assert.equal(pendingOf(inst).fanOuts, { 'all#1': { invokeId: 'all', settle: false, remaining: 2, open: '1010', results: [null, 4, null, 8] } });
  const child = (inst.record!.snapshot as { machine: { children: { all: { snapshot: Record<string, unknown> } } } }).machine.children.all;
  assert.not.ok('input' in child.snapshot, 'the elements are in the work items; the snapshot does not repeat them');
});

test('a result for an element that already answered is dropped, not applied twice', () => {
  const { inst } = started('fan-all', 'f8', [1, 2]);
  expectCommit(inst.turn([completed(inst, 'all#1[0]', 2)], T0 + 10));
  const again = expectCommit(inst.turn([completed(inst, 'all#1[0]', 99)], T0 + 20));
  assert.equal(again.delta.history.map((h) => h.type), ['dropped']);
  const last = expectCommit(inst.turn([completed(inst, 'all#1[1]', 4)], T0 + 30));
  assert.equal((last.delta.instance.output as { outputs: Json }).outputs, [2, 4]);
});

test("terminating the instance cancels the fan-out's outstanding elements", () => {
  const { inst } = started('fan-all', 'f9', [1, 2, 3]);
  expectCommit(inst.turn([completed(inst, 'all#1[0]', 2)], T0 + 10));
  const end = expectCommit(inst.turn([inst.message('terminate', { reason: 'stop' })], T0 + 20));
  assert.is(end.delta.instance.status, 'terminated');
  assert.equal(end.delta.cancelActivities, ['all#1[1]', 'all#1[2]']);
});

test('a snapshot stored with one pending.activities entry per element (before the mask) resumes and finishes', () => {
  const { inst } = started('fan-all', 'f10', [1, 2, 3]);
  expectCommit(inst.turn([completed(inst, 'all#1[1]', 4)], T0 + 10));
  const stored = inst.record!.snapshot as { pending: { activities: Record<string, Json>; fanOuts: Record<string, Record<string, Json>> } };
  delete stored.pending.fanOuts['all#1']!.open;
  stored.pending.activities = { 'all#1[0]': { invokeId: 'all', name: 'double', fanOut: 'all#1', index: 0 }, 'all#1[2]': { invokeId: 'all', name: 'double', fanOut: 'all#1', index: 2 } };
  const item = inst.item([completed(inst, 'all#1[2]', 6), completed(inst, 'all#1[1]', 99), completed(inst, 'all#1[0]', 2)], T0 + 20);
  // Straight from the stored snapshot: no history given, none asked for.
  const last = expectCommit(runTurn({ item, registry, options: TEST_OPTIONS }));
  assert.equal(last.delta.history.map((h) => h.type).slice(0, 3), ['event', 'dropped', 'event'], 'the element that had answered stays answered');
  assert.equal((last.delta.instance.output as { outputs: Json }).outputs, [2, 4, 6]);
});

test('a turn leaves the fetched record as it was (a failed turn ends from it), fan-out state included', () => {
  const { inst } = started('fan-all', 'f11', [1, 2, 3]);
  expectCommit(inst.turn([completed(inst, 'all#1[0]', 2)], T0 + 10));
  const item = inst.item([completed(inst, 'all#1[2]', 6), inst.message('event', { type: 'CANCEL' })], T0 + 20);
  const before = structuredClone(item.instance);
  expectCommit(runTurn({ item, registry, options: TEST_OPTIONS }));
  assert.equal(item.instance, before);
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
