/**
 * fanOut(def, { batchSize }): the elements are queued batchSize at a time, one work item per batch
 * whose worker reports every element's result in one message; cancelling the fan-out deletes its
 * open batches. The machine sees exactly what an unbatched fan-out gives it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Json } from '../../providers/contract.js';
import { defineActivity, defineOrchestration, fanOut, InvalidDefinitionError, NondeterminismError } from '../index.js';
import { createRegistry } from '../definitions/registry.js';
import { replayHistory } from './replay.js';
import { gatherMachine } from './test-machines.js';
import { expectCommit, TestInstance } from './test-support.js';

const T0 = 1_700_000_000_000;
const double = defineActivity('double', async (n: number) => n * 2, { retry: { maxAttempts: 1 } });
const batched = defineOrchestration('fan-batched', gatherMachine(fanOut(double, { batchSize: 2 })));
const registry = createRegistry([batched]);

const done = (activityId: string, output: Json) => ({ kind: 'activityCompleted', payload: { activityId, output } });
const broke = (activityId: string) => ({ kind: 'activityFailed', payload: { activityId, error: { name: 'Error', message: `${activityId} broke` } } });
function started(id: string, input: number[]) {
  const inst = new TestInstance(id, registry);
  const first = expectCommit(inst.turn([inst.message('start', { name: 'fan-batched', input })], T0));
  return { inst, first };
}
const results = (inst: TestInstance, list: Json[]) => inst.message('activityResults', { results: list }, { executionId: 1 });

test('elements are queued two at a time, each batch with its fan-out, first index and inputs; one command records the batch size', () => {
  const { first } = started('b1', [1, 2, 3, 4, 5]);
  assert.equal(first.delta.workItems.map((w) => [w.activityId, (w.payload as { batch: Json }).batch]), [
    ['all#1[0..1]', { fanOutId: 'all#1', first: 0, inputs: [1, 2] }],
    ['all#1[2..3]', { fanOutId: 'all#1', first: 2, inputs: [3, 4] }],
    ['all#1[4..4]', { fanOutId: 'all#1', first: 4, inputs: [5] }],
  ]);
  assert.equal(Object.keys(first.delta.workItems[0]!.payload as object), ['batch'], 'a batch carries its elements only; the worker reads the policy from its definition');
  const command = first.delta.history.find((h) => h.type === 'command')!.data as { type: string; batchSize: number; options: { retry: { maxAttempts: number } } };
  assert.equal([command.type, command.batchSize, command.options.retry.maxAttempts], ['scheduleFanOut', 2, 1]);
});

test("the batches' results, under their elements' ids, finish the fan-out with the outputs in input order; the history replays", () => {
  const { inst } = started('b2', [1, 2, 3]);
  expectCommit(inst.turn([results(inst, [done('all#1[2]', 6)])], T0 + 10));
  const last = expectCommit(inst.turn([results(inst, [done('all#1[0]', 2), done('all#1[1]', 4)])], T0 + 20));
  assert.is(last.delta.instance.status, 'completed');
  assert.equal((last.delta.instance.output as { outputs: Json }).outputs, [2, 4, 6]);
  assert.equal(replayHistory(batched, inst.history).snapshot, inst.record!.snapshot);
});

test('an element that fails for good cancels the batches still open, by their ids', () => {
  const { inst } = started('b3', [1, 2, 3, 4, 5]);
  const out = expectCommit(inst.turn([results(inst, [done('all#1[2]', 6), broke('all#1[3]')])], T0 + 10));
  assert.is(out.delta.instance.status, 'completed', 'the machine ends in its failed state');
  assert.equal((out.delta.instance.output as { error: { index: number } }).error.index, 3);
  assert.equal(out.delta.cancelActivities, ['all#1[0..1]', 'all#1[4..4]']);
});

test('a history whose batch size the definition no longer has does not replay (NondeterminismError), as for changed options', () => {
  const { inst } = started('b5', [1, 2, 3]);
  for (const batchSize of [1, 3]) {
    const changed = defineOrchestration('fan-batched', gatherMachine(fanOut(double, batchSize > 1 ? { batchSize } : {})));
    assert.throws(() => replayHistory(changed, inst.history), (err: unknown) => err instanceof NondeterminismError, `batchSize ${batchSize}`);
  }
  assert.ok(replayHistory(batched, inst.history).snapshot, 'the same batch size replays');
});

test('batchSize must be a whole number from 1 to 1000', () => {
  for (const batchSize of [0, 1.5, 1001, Number.NaN]) {
    assert.throws(() => fanOut(double, { batchSize }), (err: unknown) => err instanceof InvalidDefinitionError && err.code === 'INVALID_DEFINITION', `batchSize ${batchSize}`);
  }
  const one = defineOrchestration('fan-one', gatherMachine(fanOut(double, { batchSize: 1 })));
  const inst = new TestInstance('b4', createRegistry([one]));
  const first = expectCommit(inst.turn([inst.message('start', { name: 'fan-one', input: [7] })], T0));
  assert.equal(first.delta.workItems.map((w) => w.activityId), ['all#1[0]'], 'batchSize 1 queues each element alone, as without it');
});

test.run();
