/**
 * A turn may continue the live machine its instance's previous turn ended with (TurnInput.resume)
 * instead of restoring the stored snapshot: only when the record stores exactly what that turn
 * committed and the definition is the same, and then with exactly the deltas a restore gives. A
 * stored snapshot the machine cannot restore at all is a nondeterminism, not an engine crash.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { InstanceRecord, Json, OrchestrationItem } from '../../providers/contract.js';
import { canonicalJson } from '../definitions/canonical-json.js';
import { createRegistry } from '../definitions/registry.js';
import type { ResumableMachine } from './api.js';
import { transitionStep } from './pure-steps.js';
import { runTurn } from './run-turn.js';
import { order, orderMachine } from './test-machines.js';
import { applyDelta, expectCommit, message, TEST_OPTIONS } from './test-support.js';

const T0 = 1_700_000_000_000;
const registry = createRegistry([order]);

/** A provider's record: a JSON copy, never the engine's own objects. */
const stored = (record: InstanceRecord): InstanceRecord => JSON.parse(JSON.stringify(record)) as InstanceRecord;

function item(instanceId: string, record: InstanceRecord | null, messages: OrchestrationItem['messages'], now: number): OrchestrationItem {
  return { instanceId, lockToken: 't', executionId: record?.executionId ?? 1, messages, instance: record, attempt: 1, now, lockedUntil: now + 30_000 };
}

function started(instanceId: string) {
  const outcome = expectCommit(runTurn({
    item: item(instanceId, null, [message(instanceId, 'start', { name: 'order', version: order.version, input: { amount: 3 }, parent: null })], T0),
    registry, options: TEST_OPTIONS,
  }));
  return { outcome, record: stored(applyDelta(instanceId, null, outcome.delta, T0, [])) };
}

const chargeDone = (instanceId: string) =>
  message(instanceId, 'activityCompleted', { activityId: 'charge1#1', output: { receiptId: 'r-3' } });

test('a committed turn offers its live machine and what it stored; an ended instance offers none', () => {
  const { outcome } = started('offer');
  assert.ok(outcome.resume);
  assert.is(outcome.resume.definitionHash, order.definitionHash);
  const { machine } = outcome.delta.instance.snapshot as { machine: Record<string, Json> };
  assert.equal(outcome.resume.persisted, { ...machine, context: outcome.delta.instance.context });
  assert.equal(outcome.resume.machine.value, 'charging');
  const { record } = started('offer-end');
  const end = expectCommit(runTurn({ item: item('offer-end', record, [message('offer-end', 'event', { type: 'REJECT' })], T0 + 1), registry, options: TEST_OPTIONS }));
  assert.is(end.delta.instance.status, 'completed');
  assert.is(end.resume, null);
});

test('the kept machine is continued when the record stores exactly what it committed', () => {
  const { outcome, record } = started('kept');
  // A kept machine that differs from what a restore gives (it already took REJECT's path) shows
  // which of the two the turn ran on; a real one is always equal to the restored one.
  const [moved] = transitionStep(orderMachine, outcome.resume!.machine, { type: 'REJECT' });
  const resume: ResumableMachine = { ...outcome.resume!, machine: moved };
  const next = expectCommit(runTurn({ item: item('kept', record, [chargeDone('kept')], T0 + 1), registry, options: TEST_OPTIONS, resume }));
  assert.is(next.delta.instance.stateValue, 'rejected', 'ran on the kept machine');
});

test('a record another turn has moved on since is restored, not continued', () => {
  const { outcome, record } = started('moved-on');
  const [moved] = transitionStep(orderMachine, outcome.resume!.machine, { type: 'REJECT' });
  // What this process kept no longer matches the record: its persisted form is not the stored one.
  const stale: ResumableMachine = { ...outcome.resume!, persisted: { ...(outcome.resume!.persisted as Record<string, Json>), value: 'elsewhere' }, machine: moved };
  const next = expectCommit(runTurn({ item: item('moved-on', record, [chargeDone('moved-on')], T0 + 1), registry, options: TEST_OPTIONS, resume: stale }));
  assert.is(next.delta.instance.stateValue, 'awaitingApproval', 'ran on the restored record');
});

test('a machine kept under another definition hash is not continued', () => {
  const { outcome, record } = started('rehashed');
  const [moved] = transitionStep(orderMachine, outcome.resume!.machine, { type: 'REJECT' });
  const other: ResumableMachine = { ...outcome.resume!, definitionHash: 'another-definition', machine: moved };
  const next = expectCommit(runTurn({ item: item('rehashed', record, [chargeDone('rehashed')], T0 + 1), registry, options: TEST_OPTIONS, resume: other }));
  assert.is(next.delta.instance.stateValue, 'awaitingApproval');
});

test('a stored snapshot the machine cannot restore fails the instance as nondeterministic, changing nothing else', () => {
  const { record } = started('unreadable');
  const machine = (record.snapshot as { machine: Record<string, Json> }).machine;
  const broken: InstanceRecord = { ...record, snapshot: { ...(record.snapshot as Record<string, Json>), machine: { ...machine, value: 'nowhere' } } };
  const outcome = expectCommit(runTurn({ item: item('unreadable', broken, [chargeDone('unreadable')], T0 + 1), registry, options: TEST_OPTIONS }));
  assert.is(outcome.delta.instance.status, 'failed');
  assert.is(outcome.delta.instance.error?.code, 'NONDETERMINISM');
  assert.match(outcome.delta.instance.error!.message, 'cannot be restored');
  assert.equal(outcome.delta.workItems, []);
});

test('continuing kept machines commits the same deltas, turn by turn, as restoring every turn', () => {
  const turns = (id: string) => [
    [message(id, 'start', { name: 'order', version: order.version, input: { amount: 8 }, parent: null })],
    [chargeDone(id)],
    [message(id, 'event', { type: 'APPROVE' })],
  ];
  const run = (id: string, keep: boolean): string[] => {
    let record: InstanceRecord | null = null;
    let resume: ResumableMachine | undefined;
    const deltas: string[] = [];
    for (const [i, messages] of turns(id).entries()) {
      const outcome = expectCommit(runTurn({ item: item(id, record, messages, T0 + i), registry, options: TEST_OPTIONS, ...(keep && resume ? { resume } : {}) }));
      record = stored(applyDelta(id, record, outcome.delta, T0 + i, []));
      resume = outcome.resume ?? undefined;
      // Message ids differ between the two runs; everything else must not.
      deltas.push(canonicalJson(JSON.parse(JSON.stringify(outcome.delta).replace(/"messageId":"\d+"/g, '"messageId":"-"')) as Json));
    }
    return deltas;
  };
  // One instance id for both runs: uuid() is seeded by it.
  assert.equal(run('same', true), run('same', false));
});

test.run();
