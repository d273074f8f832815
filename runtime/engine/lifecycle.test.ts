import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Json, ParentRef } from '../../providers/contract.js';
import { createRegistry } from '../definitions/registry.js';
import { expectCommit, TestInstance } from './test-support.js';
import { counter, order, parent } from './test-machines.js';

const registry = createRegistry([order, parent, counter]);
const T0 = 1_700_000_000_000;

test('a child orchestration starts with a deterministic id and reports its completion to the parent', () => {
  const p = new TestInstance('p-1', registry);
  const started = expectCommit(p.turn([p.message('start', { name: 'parent', input: {} })], T0));
  assert.is(started.delta.messages.length, 1);
  const start = started.delta.messages[0]!;
  assert.is(start.kind, 'start');
  assert.is(start.instanceId, 'p-1:child:1:1');
  const payload = start.payload as unknown as { name: string; input: Json; parent: ParentRef };
  assert.is(payload.name, 'order');
  assert.equal(payload.input, { amount: 7 });
  assert.equal(payload.parent, { instanceId: 'p-1', executionId: 1, invokeId: 'child' });

  // Run the child to completion: its final turn sends childCompleted to the parent.
  const c = new TestInstance(start.instanceId, registry);
  const c1 = expectCommit(c.turn([c.message('start', start.payload)], T0 + 1));
  assert.equal(c1.delta.instance.parent, payload.parent);
  const activityId = c1.delta.workItems[0]!.activityId;
  c.turn([c.message('activityCompleted', { activityId, output: { receiptId: 'r-c' } }, { executionId: 1 })], T0 + 2);
  const c3 = expectCommit(c.turn([c.message('event', { type: 'APPROVE' })], T0 + 3));
  assert.is(c3.delta.instance.status, 'completed');
  const done = c3.delta.messages.find((m) => m.kind === 'childCompleted')!;
  assert.ok(done, 'the parent is told');
  assert.is(done.instanceId, 'p-1');
  assert.is(done.executionId, 1);

  const p2 = expectCommit(p.turn([p.message(done.kind, done.payload, { executionId: done.executionId ?? null })], T0 + 4));
  assert.is(p2.delta.instance.status, 'completed');
  assert.equal((p2.delta.instance.output as { receiptId: string }).receiptId, 'r-c');
});

test('a child failure reaches the parent as an error event', () => {
  const p = new TestInstance('p-2', registry);
  const started = expectCommit(p.turn([p.message('start', { name: 'parent', input: {} })], T0));
  const childId = started.delta.messages[0]!.instanceId;
  const out = expectCommit(
    p.turn([p.message('childFailed', { invokeId: 'child', childInstanceId: childId, error: { name: 'Error', message: 'no' } }, { executionId: 1 })], T0 + 1),
  );
  assert.equal(out.delta.instance.stateValue, 'failed');
});

test('terminate cancels outstanding activities, timers and children and stops applying messages', () => {
  const o = new TestInstance('o-t', registry);
  const s = expectCommit(o.turn([o.message('start', { name: 'order', input: { amount: 1 } })], T0));
  const activityId = s.delta.workItems[0]!.activityId;
  const out = expectCommit(o.turn([o.message('terminate', { reason: 'operator' }), o.message('event', { type: 'REJECT' })], T0 + 5));
  assert.is(out.delta.instance.status, 'terminated');
  assert.equal(out.delta.cancelActivities, [activityId]);
  assert.equal(out.delta.instance.stateValue, 'charging', 'the later event was not applied');
  assert.equal(out.delta.history.map((h) => h.type), ['event', 'command', 'terminated', 'dropped']);
  assert.is(out.delta.instance.error?.code, 'TERMINATED');

  const p = new TestInstance('p-t', registry);
  const ps = expectCommit(p.turn([p.message('start', { name: 'parent', input: {} })], T0));
  const childId = ps.delta.messages[0]!.instanceId;
  const pt = expectCommit(p.turn([p.message('terminate', {})], T0 + 1));
  assert.equal(pt.delta.messages, [{ instanceId: childId, kind: 'terminate', payload: { reason: "stopped by parent 'p-t'" } }]);
});

test('a terminated child reports a failure to its parent', () => {
  const c = new TestInstance('child-x', registry);
  c.turn([c.message('start', { name: 'order', input: { amount: 1 }, parent: { instanceId: 'p-9', executionId: 3, invokeId: 'child' } })], T0);
  const out = expectCommit(c.turn([c.message('terminate', {})], T0 + 1));
  const msg = out.delta.messages.find((m) => m.kind === 'childFailed');
  assert.ok(msg);
  assert.is(msg!.instanceId, 'p-9');
  assert.is(msg!.executionId, 3);
});

test('suspend keeps the later messages of the batch; resume runs again', () => {
  const o = new TestInstance('o-s', registry);
  o.turn([o.message('start', { name: 'order', input: { amount: 1 } })], T0);
  const later = o.message('event', { type: 'REJECT' });
  const out = expectCommit(o.turn([o.message('suspend', {}), later], T0 + 1));
  assert.is(out.delta.instance.status, 'suspended');
  assert.equal(out.delta.keepMessageIds, [later.id]);
  assert.equal(out.delta.instance.stateValue, 'charging');
  const resumed = expectCommit(o.turn([o.message('resume', {}), later], T0 + 2));
  assert.is(resumed.delta.instance.status, 'completed');
  assert.equal(resumed.delta.instance.stateValue, 'rejected');
});

test('continue-as-new opens the next execution at seq 0, cancels the old work and keeps the later messages', () => {
  const k = new TestInstance('k-1', registry);
  const s = expectCommit(k.turn([k.message('start', { name: 'counter', input: { total: 0 } })], T0));
  const oldTimer = s.delta.timers[0]!.timerId;
  const third = k.message('event', { type: 'NEXT' });
  const out = expectCommit(k.turn([k.message('event', { type: 'NEXT' }), k.message('event', { type: 'NEXT' }), third], T0 + 1));
  const { delta } = out;
  assert.is(delta.instance.executionId, 2);
  assert.equal(delta.instance.input, { total: 2 });
  assert.equal(delta.instance.context, { total: 2, seen: 0 });
  assert.equal(delta.keepMessageIds, [third.id]);
  const old = delta.history.filter((h) => h.executionId === 1);
  const fresh = delta.history.filter((h) => h.executionId === 2);
  assert.equal(old.slice(-3).map((h) => [h.type, (h.data as { type?: string }).type ?? null]), [['command', 'cancelTimer'], ['command', 'continueAsNew'], ['continuedAsNew', null]]);
  assert.equal(fresh.map((h) => [h.seq, h.type]), [[0, 'started'], [1, 'command']]);
  assert.equal(delta.cancelTimers, [oldTimer], "the old execution's timer is cancelled");
  assert.is(delta.timers.length, 1);
  assert.is(delta.timers[0]!.executionId, 2);
  assert.is.not(delta.timers[0]!.timerId, oldTimer, 'durable timer ids differ across executions');
  assert.is(out.executionId, 2);
  // The kept message is applied to the new execution.
  const next = expectCommit(k.turn([third], T0 + 2));
  assert.equal(next.delta.instance.context, { total: 3, seen: 1 });
  assert.is(next.delta.history[0]!.seq, 2);
});

test('continue-as-new in the first turn passes execution 1: its input and history travel in the same delta', () => {
  const k = new TestInstance('k-first', registry);
  const out = expectCommit(k.turn([
    k.message('start', { name: 'counter', input: { total: 5 } }), k.message('event', { type: 'NEXT' }), k.message('event', { type: 'NEXT' }),
  ], T0));
  const { instance, history } = out.delta;
  assert.equal([instance.executionId, instance.input, instance.passedExecutionInputs], [2, { total: 7 }, [{ total: 5 }]]);
  assert.equal(history.filter((h) => h.executionId === 1).map((h) => h.seq)[0], 0, 'execution 1 is written from seq 0');
  assert.equal(history.filter((h) => h.executionId === 2).map((h) => h.type)[0], 'started');
  // A later turn continues from the stored execution 2 and passes nothing.
  const next = expectCommit(k.turn([k.message('event', { type: 'NEXT' }), k.message('event', { type: 'NEXT' })], T0 + 1));
  assert.equal([next.delta.instance.executionId, next.delta.instance.passedExecutionInputs], [3, []]);
});

test('results addressed to an older execution are dropped', () => {
  const k = new TestInstance('k-2', registry);
  k.turn([k.message('start', { name: 'counter', input: { total: 0 } })], T0);
  k.turn([k.message('event', { type: 'NEXT' }), k.message('event', { type: 'NEXT' })], T0 + 1);
  const out = expectCommit(k.turn([k.message('timerFired', { timerId: 'x', event: { type: 'NEXT' } }, { executionId: 1, timerId: 'x' })], T0 + 2));
  assert.equal(out.delta.history.map((h) => h.type), ['dropped']);
  assert.match(JSON.stringify(out.delta.history[0]!.data), /execution 1/);
});

test('events before the start are abandoned with a delay; a start in the batch applies first', () => {
  const o = new TestInstance('o-early', registry);
  const early = o.message('event', { type: 'REJECT' });
  const waiting = o.turn([early], T0);
  assert.equal(waiting, { kind: 'abandon', reason: 'not started', delayMs: 1000 });
  const out = expectCommit(o.turn([early, o.message('start', { name: 'order', input: { amount: 3 } })], T0 + 1));
  assert.equal(out.delta.instance.stateValue, 'rejected');
  assert.equal(out.delta.history.map((h) => h.type).slice(0, 3), ['started', 'command', 'event']);
});

test('a second start for an existing instance is dropped and recorded', () => {
  const o = new TestInstance('o-dup', registry);
  o.turn([o.message('start', { name: 'order', input: { amount: 3 } })], T0);
  const out = expectCommit(o.turn([o.message('start', { name: 'order', input: { amount: 4 } })], T0 + 1));
  assert.equal(out.delta.history.map((h) => h.type), ['dropped']);
  assert.equal(out.delta.instance.input, { amount: 3 });
});

test.run();
