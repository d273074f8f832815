/** The stress harness's own checks, on hand-made observations: each must flag the violation it exists for. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HistoryEvent, QueueDepths } from '../../runtime/index.js';
import {
  checkActivitiesRan, checkEndedOnce, checkFinalStates, checkNothingStuck, checkReplays, checkResultsAppliedOnce,
  runChecks, type ObservedInstance, type Observations,
} from '../checks.js';
import type { PlannedInstance } from '../workloads/plan.js';

const EMPTY: QueueDepths = { orchestrator: { visible: 0, delayed: 0, locked: 0 }, worker: { visible: 0, delayed: 0, locked: 0 }, deadLetters: 0 };

const planned: PlannedInstance = {
  instanceId: 'i1', name: 'stress.chain', input: {}, startAtMs: 0, events: [],
  expectedOutput: { total: 4, applied: ['i1/a', 'i1/b'] }, expectedKeys: ['i1/a', 'i1/b'],
};

let seq = 0;
const h = (type: string, data: HistoryEvent['data'] = {}, executionId = 1): HistoryEvent => ({ instanceId: 'i1', executionId, seq: seq++, type, data, at: 0 });
const applied = (key: string, executionId = 1) => h('event', { kind: 'activityCompleted', payload: { activityId: `${key}#1`, output: { key, value: 2 } } }, executionId);

function healthy(): Observations {
  seq = 0;
  const inst: ObservedInstance = {
    instanceId: 'i1', name: 'stress.chain', status: 'completed', output: { total: 4, applied: ['i1/a', 'i1/b'] }, executionId: 1,
    history: [h('started'), applied('i1/a'), applied('i1/b'), h('completed')],
  };
  return {
    instances: [inst],
    runs: [{ key: 'i1/a', instanceId: 'i1', executionId: 1, activityId: 'a#1', attempt: 1 }, { key: 'i1/b', instanceId: 'i1', executionId: 1, activityId: 'b#2', attempt: 1 }],
    depths: EMPTY,
    pendingStarts: [],
    replays: [{ instanceId: 'i1', problem: null }],
  };
}

test('a healthy run passes every check', () => {
  for (const r of runChecks([planned], healthy())) assert.equal(r.failures, [], r.name);
});

test('a result applied twice is flagged', () => {
  const obs = healthy();
  obs.instances[0]!.history.splice(2, 0, applied('i1/a'));
  const r = checkResultsAppliedOnce([planned], obs);
  assert.equal(r.failures.length, 1);
  assert.match(r.failures[0]!, /i1\/a: result applied 2 times/);
});

test('a result never applied, and one applied but never planned, are flagged', () => {
  const obs = healthy();
  obs.instances[0]!.history = obs.instances[0]!.history.filter((e) => (e.data as { payload?: { output?: { key?: string } } }).payload?.output?.key !== 'i1/b');
  obs.instances[0]!.history.push(applied('i1/zzz'));
  const failures = checkResultsAppliedOnce([planned], obs).failures;
  assert.ok(failures.some((f) => f.startsWith('i1/b: result applied 0 times')));
  assert.ok(failures.some((f) => f.startsWith('i1/zzz: result applied but never planned')));
});

test('a non-terminal instance, a queued start and leftover queue rows are stuck', () => {
  const obs = healthy();
  obs.instances[0]!.status = 'running';
  obs.pendingStarts = ['i2'];
  obs.depths = { ...EMPTY, worker: { visible: 0, delayed: 1, locked: 0 }, deadLetters: 2 };
  const failures = checkNothingStuck(obs).failures;
  assert.equal(failures.length, 4);
  assert.match(failures[0]!, /i1: still running/);
  assert.match(failures[1]!, /i2: start still queued/);
  assert.match(failures[2]!, /queues not empty/);
  assert.match(failures[3]!, /2 dead letters/);
});

test('a wrong output, a failed instance and a missing instance fail the final-state check', () => {
  const wrong = healthy();
  wrong.instances[0]!.output = { total: 6, applied: ['i1/a', 'i1/b', 'i1/b'] };
  assert.match(checkFinalStates([planned], wrong).failures[0]!, /i1: output .* expected/);
  const failed = healthy();
  failed.instances[0]!.status = 'failed';
  assert.match(checkFinalStates([planned], failed).failures[0]!, /status failed/);
  const none = { ...healthy(), instances: [] };
  assert.match(checkFinalStates([planned], none).failures[0]!, /no instance record/);
});

test('an execution that completed twice, or continued without a record, is flagged', () => {
  const twice = healthy();
  twice.instances[0]!.history.push(h('completed'));
  assert.match(checkEndedOnce(twice).failures[0]!, /2 terminal/);
  const continued = healthy();
  continued.instances[0]!.executionId = 2;
  continued.instances[0]!.history = [h('started'), h('completed'), h('started', {}, 2), h('completed', {}, 2)];
  assert.match(checkEndedOnce(continued).failures[0]!, /execution 1: 1 terminal and 0 continuedAsNew/);
});

test('an activity with no recorded run is flagged', () => {
  const obs = healthy();
  obs.runs = obs.runs.filter((r) => r.key !== 'i1/b');
  assert.equal(checkActivitiesRan([planned], obs).failures, ['i1/b: never ran']);
});

test('a replay mismatch and an instance never replayed are flagged', () => {
  const obs = healthy();
  obs.replays = [{ instanceId: 'i1', problem: 'replay differs in snapshot' }];
  assert.equal(checkReplays(obs).failures, ['i1: replay differs in snapshot']);
  obs.replays = [];
  assert.equal(checkReplays(obs).failures, ['i1: not replayed']);
});

test.run();
