/** The client refuses bad input with typed errors and writes nothing (queue depths stay at zero). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from 'xstate';
import { InstanceExistsError, InstanceNotFoundError, InvalidArgumentError, NotJsonSafeError, PayloadTooLargeError } from '../../providers/errors.js';
import { stopTestServer } from '../../test/db.js';
import { createClient } from '../client/client.js';
import { WaitTimeoutError } from '../client/errors.js';
import { defineOrchestration } from '../definitions/index.js';
import { UnknownOrchestrationError } from '../errors.js';
import { openTestDatabase, type TestDatabase } from './support/postgres.js';

const greet = defineOrchestration('greet', setup({ types: {} as { input: { name: string }; events: { type: 'HI' } } }).createMachine({ initial: 'idle', states: { idle: {} } }));

let db: TestDatabase;
test.before(async () => {
  db = await openTestDatabase();
});
test.after(async () => {
  await db.close();
  await stopTestServer();
});

async function assertNothingQueued() {
  const depths = await db.provider.queueDepths();
  assert.equal(depths.orchestrator, { visible: 0, delayed: 0, locked: 0 });
  assert.equal(depths.worker, { visible: 0, delayed: 0, locked: 0 });
}

/** Orchestrator messages queued in total (earlier tests leave their starts queued: no runtime runs here). */
async function queued(): Promise<number> {
  const { orchestrator } = await db.provider.queueDepths();
  return orchestrator.visible + orchestrator.delayed + orchestrator.locked;
}

async function rejects(promise: Promise<unknown>, type: Function): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, type);
    return err as Error;
  }
  throw new assert.Assertion({ message: `expected a ${type.name}`, expects: type.name, actual: 'resolved', operator: 'rejects', generated: false });
}

test('an unknown orchestration name is refused when definitions are given', async () => {
  const client = createClient({ provider: db.provider, orchestrations: [greet] });
  const err = await rejects(client.start('gret', { name: 'x' }), UnknownOrchestrationError);
  assert.is((err as UnknownOrchestrationError).code, 'UNKNOWN_ORCHESTRATION');
  await assertNothingQueued();
});

test('raiseEvent, terminate, suspend and resume to a missing instance raise InstanceNotFoundError', async () => {
  const client = createClient({ provider: db.provider });
  await rejects(client.raiseEvent('nobody', { type: 'HI' }), InstanceNotFoundError);
  await rejects(client.terminate('nobody'), InstanceNotFoundError);
  await rejects(client.suspend('nobody'), InstanceNotFoundError);
  await rejects(client.resume('nobody'), InstanceNotFoundError);
  assert.is(await client.getStatus('nobody'), null);
  await assertNothingQueued();
});

test('a non-JSON-serialisable input or event is NotJsonSafeError', async () => {
  const client = createClient({ provider: db.provider });
  await rejects(client.start(greet, { name: new Date() } as never), NotJsonSafeError);
  await rejects(client.start('greet', { n: Number.NaN }), NotJsonSafeError);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await rejects(client.start('greet', cyclic as never), NotJsonSafeError);
  await assertNothingQueued();
  const before = await queued();
  const { instanceId } = await client.start(greet, { name: 'ok' });
  await rejects(client.raiseEvent(instanceId, { type: 'HI', when: new Map() } as never), NotJsonSafeError);
  await rejects(client.raiseEvent(instanceId, { type: 'xstate.done.actor.x' } as never), InvalidArgumentError);
  await rejects(client.raiseEvent(instanceId, { kind: 'HI' } as never), InvalidArgumentError);
  assert.is(await queued(), before + 1, 'only the start was written');
});

test('an oversize input or event is PayloadTooLargeError', async () => {
  const client = createClient({ provider: db.provider, maxPayloadBytes: 100 });
  const before = await queued();
  const err = await rejects(client.start('greet', { name: 'x'.repeat(200) }), PayloadTooLargeError);
  assert.is((err as PayloadTooLargeError).code, 'PAYLOAD_TOO_LARGE');
  const { instanceId } = await client.start('greet', { name: 'small' }, { instanceId: 'big-event' });
  await rejects(client.raiseEvent(instanceId, { type: 'HI', blob: 'y'.repeat(200) } as never), PayloadTooLargeError);
  assert.is(await queued(), before + 1, 'only the start was written');
});

test('a queued start reads as pending; a second start of the same id is InstanceExistsError', async () => {
  const client = createClient({ provider: db.provider });
  const { instanceId } = await client.start('greet', { name: 'p' }, { instanceId: 'pending-1', startAt: Date.now() + 3_600_000 });
  assert.is(instanceId, 'pending-1');
  const status = await client.getStatus('pending-1');
  assert.is(status?.status, 'pending');
  await rejects(client.start('greet', { name: 'p' }, { instanceId: 'pending-1' }), InstanceExistsError);
  // Events may be sent before the first turn: they wait for it.
  await client.raiseEvent('pending-1', { type: 'HI' });
  await rejects(client.waitForCompletion('pending-1', { timeoutMs: 10 }), WaitTimeoutError);
});

test.run();
