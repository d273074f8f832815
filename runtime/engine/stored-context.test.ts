/**
 * The machine's context is stored once, in the record's context field: the stored snapshot's machine
 * leaves it out, and a turn that restores the machine from the record puts it back. Snapshots stored
 * with their context inside (earlier versions) still restore with it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Json } from '../../providers/contract.js';
import { createRegistry } from '../definitions/registry.js';
import { persistedMachine, storedMachine } from './stored-snapshot.js';
import { order } from './test-machines.js';
import { expectCommit, TestInstance } from './test-support.js';

const T0 = 1_700_000_000_000;
const registry = createRegistry([order]);

/** An order started with amount 3; each later turn restores its machine from the record (no kept machine). */
function started(instanceId: string): TestInstance {
  const inst = new TestInstance(instanceId, registry);
  expectCommit(inst.turn([inst.message('start', { name: 'order', version: order.version, input: { amount: 3 }, parent: null })], T0));
  return inst;
}

const charged = (inst: TestInstance) =>
  expectCommit(inst.turn([inst.message('activityCompleted', { activityId: 'charge1#1', output: { receiptId: 'r-3' } })], T0 + 1));

const machineOf = (snapshot: Json | null) => (snapshot as { machine: Record<string, Json> }).machine;

test('a turn stores the context in the record only, and the next turn, restored from the record, has it back', () => {
  const inst = started('once');
  const first = inst.lastDelta!.instance;
  assert.equal(first.context, { amount: 3, receiptId: null, approvedAt: null, token: null });
  assert.not.ok('context' in machineOf(first.snapshot), 'not in the stored machine');
  assert.is(machineOf(first.snapshot).value, 'charging');

  const next = charged(inst);
  assert.is(next.delta.instance.stateValue, 'awaitingApproval');
  assert.equal(next.delta.instance.context, { amount: 3, receiptId: 'r-3', approvedAt: null, token: null }, 'amount came back from the record');
});

test('a snapshot stored with its context inside, as earlier versions stored it, restores with that context', () => {
  const inst = started('earlier');
  const record = inst.record!;
  const snapshot = record.snapshot as { machine: Record<string, Json> };
  // As an earlier version wrote it; the record's own field cleared, so only the snapshot can supply it.
  inst.record = { ...record, context: null, snapshot: { ...snapshot, machine: { ...snapshot.machine, context: record.context } } };
  assert.equal(charged(inst).delta.instance.context, { amount: 3, receiptId: 'r-3', approvedAt: null, token: null });
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
