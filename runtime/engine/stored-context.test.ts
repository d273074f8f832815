/**
 * The machine's context is stored once, in the record's context field: the stored snapshot's machine
 * leaves it out, and a turn that restores the machine from the record puts it back. Snapshots stored
 * with their context inside (earlier versions) still restore with it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { InstanceRecord, Json, OrchestrationItem } from '../../providers/contract.js';
import { createRegistry } from '../definitions/registry.js';
import { runTurn } from './run-turn.js';
import { persistedMachine, storedMachine } from './stored-snapshot.js';
import { order } from './test-machines.js';
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

/** The next turn, restored from the record (no kept machine). */
function charged(instanceId: string, record: InstanceRecord) {
  const done = message(instanceId, 'activityCompleted', { activityId: 'charge1#1', output: { receiptId: 'r-3' } });
  return expectCommit(runTurn({ item: item(instanceId, record, [done], T0 + 1), registry, options: TEST_OPTIONS }));
}

const machineOf = (snapshot: Json | null) => (snapshot as { machine: Record<string, Json> }).machine;

test('a turn stores the context in the record only, and the next turn, restored from the record, has it back', () => {
  const { outcome, record } = started('once');
  assert.equal(outcome.delta.instance.context, { amount: 3, receiptId: null, approvedAt: null, token: null });
  assert.not.ok('context' in machineOf(outcome.delta.instance.snapshot), 'not in the stored machine');
  assert.is(machineOf(outcome.delta.instance.snapshot).value, 'charging');

  const next = charged('once', record);
  assert.is(next.delta.instance.stateValue, 'awaitingApproval');
  assert.equal(next.delta.instance.context, { amount: 3, receiptId: 'r-3', approvedAt: null, token: null }, 'amount came back from the record');
});

test('a snapshot stored with its context inside, as earlier versions stored it, restores with that context', () => {
  const { outcome, record } = started('earlier');
  const context = outcome.delta.instance.context;
  const snapshot = record.snapshot as { machine: Record<string, Json> };
  // As an earlier version wrote it; the record's own field cleared, so only the snapshot can supply it.
  const earlier: InstanceRecord = { ...record, context: null, snapshot: { ...snapshot, machine: { ...snapshot.machine, context } } };
  assert.equal(charged('earlier', earlier).delta.instance.context, { amount: 3, receiptId: 'r-3', approvedAt: null, token: null });
});

test('storedMachine leaves a null or absent context where it is, so persistedMachine gives back exactly what was persisted', () => {
  const withContext = { value: 'a', context: { n: 1 } };
  const withNull = { value: 'a', context: null };
  const without = { value: 'a' };
  assert.equal(storedMachine(withContext), { value: 'a' });
  assert.equal(withContext, { value: 'a', context: { n: 1 } }, 'the persisted object is not changed');
  assert.equal(storedMachine(withNull), withNull);
  assert.equal(storedMachine(without), without);
  // The record stores the context, or null for both a null and an absent one.
  assert.equal(persistedMachine(storedMachine(withContext), { n: 1 }), withContext);
  assert.equal(persistedMachine(storedMachine(withNull), null), withNull);
  assert.equal(persistedMachine(storedMachine(without), null), without);
});

test.run();
