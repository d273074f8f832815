import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, setup } from 'xstate';
import type { Json } from '../../providers/contract.js';
import { defineActivity } from '../definitions/activity-definition.js';
import { canonicalJson } from '../definitions/canonical-json.js';
import { now, uuid } from '../definitions/deterministic.js';
import { defineOrchestration } from '../definitions/orchestration-definition.js';
import { activity } from '../definitions/placeholders.js';
import { createRegistry } from '../definitions/registry.js';
import { replayHistory } from './replay.js';
import { runTurn } from './run-turn.js';
import { expectCommit, TEST_OPTIONS, TestInstance } from './test-support.js';
import { counter, order, parent } from './test-machines.js';

const ship = defineActivity('ship', async (input: { n: number }) => ({ tracking: `t${input.n}` }));
const refund = defineActivity('refund', async (input: { n: number }) => ({ tracking: `t${input.n}` }));

/** Stays running: each PING records now() and uuid() and ships; `src` lets a test change the definition. */
function pinger(src: 'ship' | 'refund', extraState = false) {
  return setup({
    types: {} as { context: { stamps: number[]; ids: string[] }; events: { type: 'PING' } | { type: 'STOP' } },
    actors: { ship: activity(ship), refund: activity(refund) },
  }).createMachine({
    id: 'pinger',
    context: { stamps: [], ids: [] },
    initial: 'idle',
    states: {
      idle: {
        on: {
          PING: { target: 'shipping', actions: assign({ stamps: ({ context }) => [...context.stamps, now()], ids: ({ context }) => [...context.ids, uuid(), uuid()] }) },
        },
      },
      shipping: {
        invoke: { id: 'ship', src, input: ({ context }) => ({ n: context.stamps.length }), onDone: 'idle' },
        after: { 5000: 'idle' },
      },
      ...(extraState ? { extra: {} } : {}),
    },
  });
}

const v1 = defineOrchestration('pinger', pinger('ship'));
const T0 = 1_700_000_000_000;

function drive(inst: TestInstance): void {
  inst.turn([inst.message('start', { name: 'pinger', input: null })], T0);
  inst.turn([inst.message('event', { type: 'PING' })], T0 + 10);
  const w = inst.lastDelta!.workItems[0]!;
  inst.turn([inst.message('activityCompleted', { activityId: w.activityId, output: { tracking: 'x' } }, { executionId: 1 })], T0 + 20);
  inst.turn([inst.message('event', { type: 'PING' })], T0 + 30);
}

test('replaying the history with the unchanged definition reproduces the stored snapshot exactly', () => {
  const inst = new TestInstance('r-1', createRegistry([v1]));
  drive(inst);
  const replayed = replayHistory(v1, inst.executionHistory());
  assert.is(canonicalJson(replayed.snapshot), canonicalJson(inst.record!.snapshot!));
  assert.is(replayed.status, 'running');
  assert.equal(replayed.context, inst.record!.context, 'the context, stored in the record');
  const ctx = replayed.context as { stamps: number[]; ids: string[] };
  assert.equal(ctx.stamps, [T0 + 10, T0 + 30], 'now() is the logical time recorded for each event');
  assert.is(new Set(ctx.ids).size, 4, 'uuid() differs per call and per event');
});

test('a missing snapshot asks for history, then the turn continues from the replayed state', () => {
  const inst = new TestInstance('r-2', createRegistry([v1]));
  drive(inst);
  const before = inst.record!;
  inst.record = { ...before, snapshot: null };
  const item = inst.item([inst.message('event', { type: 'STOP' })], T0 + 40);
  assert.equal(runTurn({ item, registry: inst.registry, options: TEST_OPTIONS }), { kind: 'needHistory', executionId: 1 });
  const out = expectCommit(runTurn({ item, registry: inst.registry, options: TEST_OPTIONS, history: inst.executionHistory() }));
  assert.is(canonicalJson(out.delta.instance.snapshot!), canonicalJson(before.snapshot!), 'STOP is ignored, so the snapshot is the replayed one');
  assert.equal(out.log.map((l) => l.msg), [], 'replayed events are not logged again');
});

test('a definition whose hash changed but whose behaviour matches replays and moves to the new hash', () => {
  const inst = new TestInstance('r-3', createRegistry([v1]));
  drive(inst);
  const compatible = defineOrchestration('pinger', pinger('ship', true));
  assert.is.not(compatible.definitionHash, v1.definitionHash);
  const next = new TestInstance('r-3', createRegistry([compatible]));
  next.record = inst.record;
  next.history.push(...inst.history);
  const out = expectCommit(next.turn([next.message('event', { type: 'STOP' })], T0 + 40));
  assert.is(out.delta.instance.status, 'running');
  assert.is(out.delta.instance.definitionHash, compatible.definitionHash);
});

test('a changed invoke src is a NondeterminismError: the instance fails and is not advanced', () => {
  const inst = new TestInstance('r-4', createRegistry([v1]));
  drive(inst);
  const changed = defineOrchestration('pinger', pinger('refund'));
  const next = new TestInstance('r-4', createRegistry([changed]));
  next.record = inst.record;
  next.history.push(...inst.history);
  const before = inst.record!;
  const out = expectCommit(next.turn([next.message('event', { type: 'PING' })], T0 + 40));
  const { delta } = out;
  assert.is(delta.instance.status, 'failed');
  assert.is(delta.instance.error?.code, 'NONDETERMINISM');
  assert.match(delta.instance.error!.message, /command #\d+ differs on replay: recorded .*"name":"ship".*replay produced .*"name":"refund"/);
  assert.equal(delta.instance.snapshot, before.snapshot, 'the stored snapshot is kept');
  assert.equal(delta.instance.stateValue, before.stateValue);
  assert.is(delta.workItems.length, 0);
  assert.ok(delta.cancelActivities.length === 1 && delta.cancelTimers.length === 1, 'outstanding work of the failed instance is cancelled');
});

test('onNondeterminism suspend leaves the instance suspended with the error and keeps the messages', () => {
  const inst = new TestInstance('r-5', createRegistry([v1]));
  drive(inst);
  const changed = defineOrchestration('pinger', pinger('refund'));
  const next = new TestInstance('r-5', createRegistry([changed]), { ...TEST_OPTIONS, onNondeterminism: 'suspend' });
  next.record = inst.record;
  next.history.push(...inst.history);
  const ping = next.message('event', { type: 'PING' });
  const out = expectCommit(next.turn([ping], T0 + 40));
  assert.is(out.delta.instance.status, 'suspended');
  assert.is(out.delta.instance.error?.code, 'NONDETERMINISM');
  assert.equal(out.delta.keepMessageIds, [ping.id]);
  assert.equal(out.delta.cancelActivities, [], 'a suspended instance keeps its outstanding work');
  assert.is(out.delta.instance.definitionHash, v1.definitionHash, 'the old hash stays, so a fixed deploy replays again');
  // A terminate still works while the definition is broken.
  const t = expectCommit(next.turn([next.message('terminate', {})], T0 + 50));
  assert.is(t.delta.instance.status, 'terminated');
});

test('replayHistory rejects a history whose recorded commands differ', () => {
  const inst = new TestInstance('r-6', createRegistry([v1]));
  drive(inst);
  const tampered = inst.executionHistory().map((h) =>
    h.type === 'command' && (h.data as { type: string }).type === 'createTimer' ? { ...h, data: { ...(h.data as Record<string, Json>), fireAt: 1 } } : h,
  );
  assert.throws(() => replayHistory(v1, tampered), (e: Error & { code?: string }) => e.code === 'NONDETERMINISM');
});

test('histories with continue-as-new and child orchestrations replay to their stored snapshots', () => {
  const reg = createRegistry([counter, parent, order]);
  const k = new TestInstance('r-7', reg);
  k.turn([k.message('start', { name: 'counter', input: { total: 0 } })], T0);
  k.turn([k.message('event', { type: 'NEXT' }), k.message('event', { type: 'NEXT' })], T0 + 1);
  k.turn([k.message('event', { type: 'NEXT' })], T0 + 2);
  assert.is(k.record!.executionId, 2);
  const rk = replayHistory(counter, k.executionHistory());
  assert.is(rk.executionId, 2);
  assert.is(canonicalJson(rk.snapshot), canonicalJson(k.record!.snapshot!));

  const p = new TestInstance('r-8', reg);
  p.turn([p.message('start', { name: 'parent', input: null })], T0);
  assert.is(canonicalJson(replayHistory(parent, p.executionHistory()).snapshot), canonicalJson(p.record!.snapshot!));
});

test.run();
