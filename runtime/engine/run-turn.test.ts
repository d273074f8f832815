import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRegistry } from '../definitions/registry.js';
import { expectCommit, TestInstance } from './test-support.js';
import { order } from './test-machines.js';

const registry = createRegistry([order]);
const T0 = 1_700_000_000_000;

function started(): { inst: TestInstance; activityId: string } {
  const inst = new TestInstance('o-1', registry);
  const out = expectCommit(inst.turn([inst.message('start', { name: 'order', input: { amount: 42 } })], T0));
  return { inst, activityId: out.delta.workItems[0]!.activityId };
}

test('start creates the instance and schedules the invoked activity as a work item', () => {
  const inst = new TestInstance('o-1', registry);
  const out = expectCommit(inst.turn([inst.message('start', { name: 'order', input: { amount: 42 } })], T0));
  const { delta } = out;
  assert.is(delta.instance.name, 'order');
  assert.is(delta.instance.version, '1');
  assert.is(delta.instance.status, 'running');
  assert.is(delta.instance.executionId, 1);
  assert.equal(delta.instance.input, { amount: 42 });
  assert.equal(delta.instance.stateValue, 'charging');
  assert.is(delta.instance.definitionHash, order.definitionHash);
  assert.is(delta.workItems.length, 1);
  const w = delta.workItems[0]!;
  assert.is(w.name, 'charge');
  assert.is(w.executionId, 1);
  assert.ok(w.activityId.startsWith('charge1#'));
  assert.equal(w.payload, { input: { amount: 42 } }, 'the item carries the input; the worker reads the policy from its definition');
  const command = delta.history[1]!.data as { options: { retry: { maxAttempts: number }; timeoutMs: number } };
  assert.equal([command.options.retry.maxAttempts, command.options.timeoutMs], [5, 30_000], 'the options are in the command, for replay');
  assert.equal(delta.history.map((h) => [h.seq, h.type]), [[0, 'started'], [1, 'command']]);
  assert.is(out.turn, 1);
  assert.ok(out.log.some((l) => l.msg === 'orchestration started'));
});

test('activity completion moves on, arms the durable timer at logical now + delay and emits', () => {
  const { inst, activityId } = started();
  const out = expectCommit(inst.turn([inst.message('activityCompleted', { activityId, output: { receiptId: 'r-9' } }, { executionId: 1 })], T0 + 50));
  const { delta } = out;
  assert.equal(delta.instance.stateValue, 'awaitingApproval');
  assert.equal((delta.instance.context as { receiptId: string }).receiptId, 'r-9');
  assert.is(delta.timers.length, 1);
  assert.is(delta.timers[0]!.fireAt, T0 + 50 + 1000);
  assert.equal((delta.timers[0]!.payload as { event: unknown }).event, { type: 'xstate.after.1000.order.awaitingApproval' });
  assert.equal(delta.cancelActivities, [], 'a completed activity is not cancelled');
  assert.ok(delta.history.some((h) => h.type === 'emitted' && (h.data as { event: { type: string } }).event.type === 'charged'));
  assert.equal(delta.history[0]!.seq, inst.record!.historyLength - delta.history.length, 'seqs continue the history');
});

test('an approving event completes the instance with its output; the named action runs after commit', () => {
  const { inst, activityId } = started();
  inst.turn([inst.message('activityCompleted', { activityId, output: { receiptId: 'r-9' } }, { executionId: 1 })], T0 + 50);
  const timerId = inst.lastDelta!.timers[0]!.timerId;
  const out = expectCommit(inst.turn([inst.message('event', { type: 'APPROVE' })], T0 + 100));
  const { delta } = out;
  assert.is(delta.instance.status, 'completed');
  assert.equal(delta.instance.output, { receiptId: 'r-9', approvedAt: T0 + 100, token: (delta.instance.output as { token: string }).token });
  assert.match((delta.instance.output as { token: string }).token, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(delta.cancelTimers, [timerId], 'leaving the state cancels its timer');
  assert.equal(out.afterCommit, [{ type: 'notifyShipping', params: { carrier: 'ups' } }]);
  assert.ok(delta.history.some((h) => h.type === 'completed'));
});

test('the timer fires with its own event', () => {
  const { inst, activityId } = started();
  inst.turn([inst.message('activityCompleted', { activityId, output: { receiptId: 'r-9' } }, { executionId: 1 })], T0 + 50);
  const timer = inst.lastDelta!.timers[0]!;
  const out = expectCommit(inst.turn([inst.message('timerFired', timer.payload, { timerId: timer.timerId, executionId: 1 })], T0 + 2000));
  assert.is(out.delta.instance.status, 'completed');
  assert.equal(out.delta.instance.stateValue, 'timedOut');
  assert.equal(out.delta.cancelTimers, [], 'a fired timer is not cancelled');
});

test('leaving a state cancels its activity; the late result is dropped and recorded', () => {
  const { inst, activityId } = started();
  const out = expectCommit(inst.turn([inst.message('event', { type: 'REJECT' })], T0 + 10));
  assert.equal(out.delta.cancelActivities, [activityId]);
  assert.is(out.delta.instance.status, 'completed');
  const late = expectCommit(inst.turn([inst.message('activityCompleted', { activityId, output: { receiptId: 'x' } }, { executionId: 1 })], T0 + 20));
  assert.is(late.delta.instance.status, 'completed');
  assert.equal(late.delta.history.map((h) => h.type), ['dropped']);
  assert.equal(late.delta.instance.output, out.delta.instance.output);
});

test('a result for a cancelled activity of a running instance is dropped, not applied', () => {
  const { inst, activityId } = started();
  const out = expectCommit(inst.turn([inst.message('activityCompleted', { activityId: 'charge1#99', output: { receiptId: 'x' } }, { executionId: 1 })], T0 + 10));
  assert.equal(out.delta.instance.stateValue, 'charging');
  assert.equal(out.delta.history.map((h) => h.type), ['dropped']);
  assert.match(JSON.stringify(out.delta.history[0]!.data), /not outstanding/);
  assert.ok(activityId);
});

test('a failed activity takes the onError transition', () => {
  const { inst, activityId } = started();
  const out = expectCommit(inst.turn([inst.message('activityFailed', { activityId, error: { name: 'Error', message: 'card declined' } }, { executionId: 1 })], T0 + 10));
  assert.equal(out.delta.instance.stateValue, 'failed');
  assert.is(out.delta.instance.status, 'completed');
});

test.run();
