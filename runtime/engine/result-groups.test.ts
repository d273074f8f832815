/**
 * 'activityResults' messages (a provider's merge of several results, contract: ackWorkItem): a turn
 * applies one as its results one after the other, and records each as if it had come alone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HistoryEvent, Json, OrchestratorMessage } from '../../providers/contract.js';
import { defineActivity, defineOrchestration, fanOut } from '../index.js';
import { createRegistry } from '../definitions/registry.js';
import { replayHistory } from './replay.js';
import { gatherMachine } from './test-machines.js';
import { expectCommit, TestInstance } from './test-support.js';

const T0 = 1_700_000_000_000;
const double = defineActivity('double', async (n: number) => n * 2, { retry: { maxAttempts: 1 } });
const all = defineOrchestration('fan-all', gatherMachine(fanOut(double)));
const registry = createRegistry([all]);

type Result = { kind: 'activityCompleted' | 'activityFailed'; payload: Json };
const done = (activityId: string, output: Json): Result => ({ kind: 'activityCompleted', payload: { activityId, output } });
const broke = (activityId: string): Result => ({ kind: 'activityFailed', payload: { activityId, error: { name: 'Error', message: `${activityId} broke` } } });

function started(id: string, input: number[]): TestInstance {
  const inst = new TestInstance(id, registry);
  expectCommit(inst.turn([inst.message('start', { name: 'fan-all', input })], T0));
  return inst;
}
const group = (inst: TestInstance, results: Result[], executionId = 1) => inst.message('activityResults', { results } as unknown as Json, { executionId });
const alone = (inst: TestInstance, r: Result) => inst.message(r.kind, r.payload, { executionId: 1 });
/** History without the message ids (a group's results carry the group's id; alone, each its own). */
const entries = (history: HistoryEvent[]) => history.map(({ at: _at, ...h }) => ({ ...h, data: { ...(h.data as object), messageId: '-' } }));

test('a group is applied exactly as its results queued one by one: same history entries, same snapshot, and it replays', () => {
  const results = [done('all#1[2]', 6), done('all#1[0]', 2), done('all#1[1]', 4)];
  const grouped = started('g', [1, 2, 3]);
  const oneByOne = started('g', [1, 2, 3]);
  const a = expectCommit(grouped.turn([group(grouped, results)], T0 + 10));
  const b = expectCommit(oneByOne.turn(results.map((r) => alone(oneByOne, r)), T0 + 10));
  assert.is(a.delta.instance.status, 'completed');
  assert.equal((a.delta.instance.output as { outputs: Json }).outputs, [2, 4, 6]);
  assert.equal(a.delta.history.filter((h) => h.type === 'event').map((h) => (h.data as { kind: string }).kind), ['activityCompleted', 'activityCompleted', 'activityCompleted']);
  assert.equal(entries(grouped.history), entries(oneByOne.history));
  assert.equal(a.delta.instance.snapshot, b.delta.instance.snapshot);
  assert.equal(replayHistory(all, grouped.history).snapshot, grouped.record!.snapshot);
});

test('a result in a group that is no longer outstanding is dropped alone; one cancelled by an earlier result of the same group too', () => {
  const inst = started('g2', [1, 2, 3]);
  const out = expectCommit(inst.turn([group(inst, [done('all#1[0]', 2), done('nope', 0), broke('all#1[1]'), done('all#1[2]', 6)])], T0 + 10));
  assert.is(out.delta.instance.status, 'completed', 'the failed element ended the fan-out, and the machine with it');
  assert.equal(out.delta.history.map((h) => [h.type, (h.data as { payload?: { activityId?: string } }).payload?.activityId ?? null]), [
    ['event', 'all#1[0]'],
    ['dropped', 'nope'],
    ['event', 'all#1[1]'],
    ['command', null], // cancelActivity of element 2
    ['completed', null],
    ['dropped', 'all#1[2]'],
  ]);
  assert.equal(out.delta.cancelActivities, ['all#1[2]']);
  assert.equal(replayHistory(all, inst.history).snapshot, inst.record!.snapshot);
});

test('a group for another execution is dropped result by result; a malformed group is dropped whole', () => {
  const inst = started('g3', [1]);
  const stale = group(inst, [done('all#1[0]', 2)], 7);
  const malformed = inst.message('activityResults', { results: [{ kind: 'event', payload: {} }] }, { executionId: 1 });
  const out = expectCommit(inst.turn([stale, malformed], T0 + 10));
  assert.equal(out.delta.history.map((h) => [h.type, (h.data as { kind: string }).kind, (h.data as { reason: string }).reason]), [
    ['dropped', 'activityCompleted', 'message for execution 7, current is 1'],
    ['dropped', 'activityResults', 'payload is not a list of activity results'],
  ]);
  assert.is(out.delta.instance.status, 'running');
});

test('a group that arrives while the instance is suspended is kept whole, once, and applied after the resume', () => {
  const inst = started('g4', [1, 2]);
  expectCommit(inst.turn([inst.message('suspend', {})], T0 + 5));
  const g: OrchestratorMessage = group(inst, [done('all#1[0]', 2), done('all#1[1]', 4)]);
  const kept = expectCommit(inst.turn([g], T0 + 10));
  assert.equal(kept.delta.keepMessageIds, [g.id]);
  assert.equal(kept.delta.history, []);
  const resumed = expectCommit(inst.turn([inst.message('resume', {}), g], T0 + 20));
  assert.is(resumed.delta.instance.status, 'completed');
  assert.equal(resumed.delta.keepMessageIds, []);
});

test('a finished instance records each result of a late group as dropped', () => {
  const inst = started('g5', [1]);
  expectCommit(inst.turn([alone(inst, done('all#1[0]', 2))], T0 + 10));
  assert.is(inst.record!.status, 'completed');
  const out = expectCommit(inst.turn([group(inst, [done('all#1[0]', 2), done('x', 1)])], T0 + 20));
  assert.equal(out.delta.history.map((h) => [h.type, (h.data as { kind: string }).kind, (h.data as { reason: string }).reason]), [
    ['dropped', 'activityCompleted', 'instance is completed'],
    ['dropped', 'activityCompleted', 'instance is completed'],
  ]);
});

test.run();
