import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup } from 'xstate';
import { defineActivity } from '../definitions/activity-definition.js';
import { defineOrchestration } from '../definitions/orchestration-definition.js';
import { activity } from '../definitions/placeholders.js';
import { createRegistry } from '../definitions/registry.js';
import { expectCommit, TEST_OPTIONS, TestInstance } from './test-support.js';
import { order } from './test-machines.js';

const T0 = 1_700_000_000_000;
const work = defineActivity('work', async (input: { n: number }) => input);

/** Each event type breaks a different rule. */
const fragile = defineOrchestration(
  'fragile',
  setup({
    types: {} as {
      context: { stuff: unknown; refs: unknown[] };
      events: { type: 'DATE' } | { type: 'THROW' } | { type: 'BIG' } | { type: 'SPAWN' } | { type: 'SPAWN_NO_ID' } | { type: 'INLINE' } | { type: 'WORK' };
    },
    actors: { work: activity(work) },
  }).createMachine({
    id: 'fragile',
    context: { stuff: { order: {} }, refs: [] },
    initial: 'idle',
    states: {
      idle: { on: { WORK: 'working' } },
      // No onError: a failing activity puts the machine itself in error status.
      working: { invoke: { id: 'w', src: 'work', input: { n: 0 } } },
    },
    on: {
      DATE: { actions: assign({ stuff: () => ({ order: { createdAt: new Date(0) } }) }) },
      THROW: { guard: () => { throw new Error('guard exploded'); }, actions: assign({ stuff: 1 }) },
      BIG: { actions: assign({ stuff: () => 'x'.repeat(2000) }) },
      SPAWN: { actions: assign({ refs: ({ spawn }) => [spawn('work', { id: 'w1', input: { n: 1 } })] }) },
      SPAWN_NO_ID: { actions: assign({ refs: ({ spawn }) => [spawn('work', { input: { n: 2 } })] }) },
      INLINE: { actions: () => {} },
    },
  }),
);
const registry = createRegistry([order, fragile]);

function running(id: string, options = TEST_OPTIONS): TestInstance {
  const inst = new TestInstance(id, registry, options);
  inst.turn([inst.message('start', { name: 'fragile', input: null })], T0);
  return inst;
}

test('a poison batch fails the instance with PoisonMessageError and dead-letters the messages', () => {
  const inst = new TestInstance('p-1', registry);
  inst.turn([inst.message('start', { name: 'order', input: { amount: 1 } })], T0);
  const activityId = inst.lastDelta!.workItems[0]!.activityId;
  const a = inst.message('event', { type: 'REJECT' });
  const b = inst.message('event', { type: 'APPROVE' });
  const out = expectCommit(inst.turn([a, b], T0 + 1, 6));
  const { delta } = out;
  assert.is(delta.instance.status, 'failed');
  assert.is(delta.instance.error?.code, 'POISON_MESSAGE');
  assert.equal(delta.deadLetterMessageIds, [a.id, b.id]);
  assert.ok(delta.deadLetterReason);
  assert.equal(delta.instance.stateValue, 'charging', 'no message was applied');
  assert.equal(delta.cancelActivities, [activityId]);
});

test('a poison start creates the instance as failed', () => {
  const inst = new TestInstance('p-2', registry);
  const start = inst.message('start', { name: 'order', input: { amount: 1 } });
  const out = expectCommit(inst.turn([start], T0, 6));
  assert.is(out.delta.instance.status, 'failed');
  assert.is(out.delta.instance.name, 'order');
  assert.equal(out.delta.deadLetterMessageIds, [start.id]);
});

test('an unknown orchestration or version is abandoned, never failed', () => {
  const inst = new TestInstance('u-1', registry);
  const out = inst.turn([inst.message('start', { name: 'nope', input: null })], T0);
  assert.is(out.kind, 'abandon');
  assert.match((out as { reason: string }).reason, /nope/);
  const v = inst.turn([inst.message('start', { name: 'order', version: '9', input: null })], T0);
  assert.is(v.kind, 'abandon');
  assert.is(inst.record, null);
});

test('a context that is not JSON-safe fails the instance naming the path, with nothing else written', () => {
  const inst = running('j-1');
  const before = inst.record!;
  const out = expectCommit(inst.turn([inst.message('event', { type: 'DATE' })], T0 + 1));
  const { delta } = out;
  assert.is(delta.instance.status, 'failed');
  assert.is(delta.instance.error?.code, 'NOT_JSON_SAFE');
  assert.equal((delta.instance.error?.details as { path: string }).path, 'context.stuff.order.createdAt');
  assert.equal(delta.instance.snapshot, before.snapshot);
  assert.equal(delta.instance.context, before.context);
  assert.equal(delta.history.map((h) => h.type), ['dropped', 'failed']);
});

test('a throwing guard fails the instance with the error', () => {
  const inst = running('j-2');
  const out = expectCommit(inst.turn([inst.message('event', { type: 'THROW' })], T0 + 1));
  assert.is(out.delta.instance.status, 'failed');
  assert.is(out.delta.instance.error?.code, 'MACHINE_CODE');
  assert.match(out.delta.instance.error!.message, /guard exploded/);
});

test('a context larger than maxPayloadBytes fails with PayloadTooLargeError', () => {
  const inst = running('j-3', { ...TEST_OPTIONS, maxPayloadBytes: 1000 });
  const out = expectCommit(inst.turn([inst.message('event', { type: 'BIG' })], T0 + 1));
  assert.is(out.delta.instance.error?.code, 'PAYLOAD_TOO_LARGE');
});

test('spawn inside assign schedules the activity; without an id it fails the instance', () => {
  const inst = running('s-1');
  const out = expectCommit(inst.turn([inst.message('event', { type: 'SPAWN' })], T0 + 1));
  assert.is(out.delta.workItems.length, 1);
  assert.equal(out.delta.workItems[0]!.name, 'work');
  assert.equal((out.delta.workItems[0]!.payload as { input: unknown }).input, { n: 1 });
  const bad = running('s-2');
  const failed = expectCommit(bad.turn([bad.message('event', { type: 'SPAWN_NO_ID' })], T0 + 1));
  assert.is(failed.delta.instance.error?.code, 'INVALID_DEFINITION');
});

test('inline action functions never run; they are reported in the turn log', () => {
  const inst = running('i-1');
  const out = expectCommit(inst.turn([inst.message('event', { type: 'INLINE' })], T0 + 1));
  assert.is(out.delta.instance.status, 'running');
  assert.equal(out.afterCommit, []);
  assert.ok(out.log.some((l) => l.level === 'warn' && /inline action/.test(l.msg)));
});

test('messages for a completed instance are consumed and recorded as dropped', () => {
  const inst = new TestInstance('d-1', registry);
  inst.turn([inst.message('start', { name: 'order', input: { amount: 1 } })], T0);
  inst.turn([inst.message('event', { type: 'REJECT' })], T0 + 1);
  const out = expectCommit(inst.turn([inst.message('event', { type: 'APPROVE' })], T0 + 2, 99));
  assert.is(out.delta.instance.status, 'completed', 'even a poison count does not touch a terminal instance');
  assert.equal(out.delta.history.map((h) => h.type), ['dropped']);
  assert.equal(out.delta.deadLetterMessageIds, []);
});

test('a start input larger than maxPayloadBytes fails the new instance', () => {
  const inst = new TestInstance('big-start', registry, { ...TEST_OPTIONS, maxPayloadBytes: 100 });
  const out = expectCommit(inst.turn([inst.message('start', { name: 'fragile', input: 'x'.repeat(200) })], T0));
  assert.is(out.delta.instance.status, 'failed');
  assert.is(out.delta.instance.error?.code, 'PAYLOAD_TOO_LARGE');
  assert.is(out.delta.instance.snapshot, null);
});

test('an unhandled actor error fails the instance with its error info', () => {
  const inst = running('e-1');
  const out = expectCommit(inst.turn([inst.message('event', { type: 'WORK' })], T0 + 1));
  const activityId = out.delta.workItems[0]!.activityId;
  const failed = expectCommit(inst.turn([inst.message('activityFailed', { activityId, error: { name: 'TypeError', message: 'bad input' } }, { executionId: 1 })], T0 + 2));
  assert.is(failed.delta.instance.status, 'failed');
  assert.equal(failed.delta.instance.error, { name: 'TypeError', message: 'bad input' });
  assert.equal(failed.delta.history.map((h) => h.type), ['event', 'failed']);
});

test('several versions side by side: newest by default, pinned when asked, kept by running instances', () => {
  const v2 = defineOrchestration('order', order.machine, { version: '10' });
  const v1b = defineOrchestration('order', order.machine, { version: '9' });
  const reg = createRegistry([order, v2, v1b]);
  const a = new TestInstance('v-a', reg);
  assert.is(expectCommit(a.turn([a.message('start', { name: 'order', input: { amount: 1 } })], T0)).delta.instance.version, '10');
  const b = new TestInstance('v-b', reg);
  assert.is(expectCommit(b.turn([b.message('start', { name: 'order', version: '1', input: { amount: 1 } })], T0)).delta.instance.version, '1');
  assert.is(expectCommit(b.turn([b.message('event', { type: 'REJECT' })], T0 + 1)).delta.instance.version, '1');
});

test.run();
