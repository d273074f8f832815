import * as assert from 'uvu/assert';
import { InstanceNotFoundError, InstanceRunningError, InvalidArgumentError } from '../errors.js';
import {
  collect, createInstance, eventMessage, expectError, fetchOne, historyEvents, sampleDelta, startMessage,
} from '../../validation/conformance/helpers.js';
import { dumpTables, providerSuite } from './test-support.js';
import type { PostgresProvider } from './provider.js';

const test = providerSuite('postgres reads and admin', 'adm', { listen: false });

const parent = (instanceId: string) => ({ instanceId, executionId: 1, invokeId: 'child' });

test('getInstance: the record as the last ack wrote it; null when unknown', async ({ p, clock }) => {
  assert.is(await p.getInstance('nope'), null);
  await expectError(p.getInstance(''), InvalidArgumentError);
  const at = clock.now();
  await createInstance(p, 'a', { instance: { status: 'completed', output: { ok: true }, parent: parent('root') } });
  assert.equal(await p.getInstance('a'), {
    instanceId: 'a', name: 'sample', version: '1', executionId: 1, status: 'completed', stateValue: 'idle',
    context: { n: 0 }, input: null, output: { ok: true }, error: null, snapshot: { value: 'idle' },
    definitionHash: 'hash-1', parent: parent('root'), historyLength: 1, turns: 1,
    createdAt: at, updatedAt: at, completedAt: at,
  });
});

test('listInstances: keyset pages in (createdAt, instanceId) order, filters, opaque cursor', async ({ p, clock }) => {
  for (const id of ['e', 'b', 'd', 'a', 'c']) {
    await createInstance(p, id, { instance: { status: id === 'b' ? 'completed' : 'running', name: id === 'e' ? 'other' : 'sample', parent: id === 'c' ? parent('a') : null } });
    if (id !== 'd') clock.advance(10); // 'd' and 'a' share createdAt: the id breaks the tie
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await p.listInstances({}, { cursor, limit: 2 });
    seen.push(...page.items.map((r) => r.instanceId));
    cursor = page.nextCursor;
    pages++;
  } while (cursor !== null);
  assert.equal(seen, ['e', 'b', 'a', 'd', 'c']);
  assert.is(pages, 3);
  const ids = async (filter: Parameters<PostgresProvider['listInstances']>[0]) => (await p.listInstances(filter)).items.map((r) => r.instanceId);
  assert.equal(await ids({ status: ['completed'] }), ['b']);
  assert.equal(await ids({ name: 'other' }), ['e']);
  assert.equal(await ids({ parentInstanceId: 'a' }), ['c']);
  const first = (await p.getInstance('e'))!.createdAt;
  assert.equal(await ids({ createdFrom: first + 10, createdTo: first + 20 }), ['b']);
  await expectError(p.listInstances({}, { cursor: 'garbage' }), InvalidArgumentError);
  await expectError(p.listInstances({ status: ['bogus' as never] }), InvalidArgumentError);
});

test('readHistory streams an execution in seq order, across cursor batches; fromSeq; unknown instance', async ({ p }) => {
  await createInstance(p, 'a', { history: historyEvents(1, 0, 450) });
  const events = await collect(p.readHistory('a'));
  assert.equal(events.map((e) => e.seq), Array.from({ length: 450 }, (_, i) => i));
  assert.equal(events[7], { instanceId: 'a', executionId: 1, seq: 7, type: 'event', data: { i: 7 }, at: events[7]!.at });
  assert.equal((await collect(p.readHistory('a', { fromSeq: 448 }))).map((e) => e.seq), [448, 449]);
  await expectError(p.readHistory('nope'), InstanceNotFoundError);
  await expectError(p.readHistory('a', { executionId: 0 }), InvalidArgumentError);
});

test('readHistory: stopping early gives the connection back (pool of 2, stopped 5 times)', async ({ p }) => {
  await createInstance(p, 'a', { history: historyEvents(1, 0, 500) });
  for (let i = 0; i < 5; i++) {
    for await (const e of p.readHistory('a')) if (e.seq === 3) break;
  }
  assert.ok(await p.getInstance('a'));
});

test('readHistory of an older execution; pruneExecutions keeps the newest ones', async ({ p }) => {
  await createInstance(p, 'a');
  for (const execution of [2, 3]) {
    await p.enqueueOrchestratorMessage(eventMessage('a'));
    const item = await fetchOne(p, 'a');
    await p.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { executionId: execution }, history: historyEvents(execution, 0, execution) }));
  }
  assert.is((await collect(p.readHistory('a', { executionId: 1 }))).length, 1);
  assert.is((await collect(p.readHistory('a'))).length, 3);
  assert.is(await p.pruneExecutions('a', { keep: 2 }), 1);
  assert.equal(await collect(p.readHistory('a', { executionId: 1 })), []);
  assert.is((await collect(p.readHistory('a', { executionId: 2 }))).length, 2);
  assert.is(await p.pruneExecutions('a'), 1);
  assert.is(await p.pruneExecutions('a'), 0);
  assert.is((await collect(p.readHistory('a'))).length, 3, 'never the current one');
  await expectError(p.pruneExecutions('nope'), InstanceNotFoundError);
  await expectError(p.pruneExecutions('a', { keep: 0 }), InvalidArgumentError);
});

test('queueDepths: visible, delayed, locked (an expired lock counts as visible again)', async ({ p, clock }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  await p.enqueueOrchestratorMessage(startMessage('b'));
  await p.enqueueOrchestratorMessage(startMessage('c'), { visibleAt: clock.now() + 1000 });
  await fetchOne(p, 'a', 500);
  assert.equal(await p.queueDepths(), {
    orchestrator: { visible: 1, delayed: 1, locked: 1 }, worker: { visible: 0, delayed: 0, locked: 0 }, deadLetters: 0,
  });
  clock.advance(500);
  assert.equal((await p.queueDepths()).orchestrator, { visible: 2, delayed: 1, locked: 0 });
});

test('listDeadLetters pages by id', async ({ p }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  for (let i = 0; i < 5; i++) await p.enqueueOrchestratorMessage(eventMessage('a', `E${i}`));
  const item = await fetchOne(p, 'a');
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ deadLetterMessageIds: item.messages.slice(1).map((m) => m.id) }));
  const first = await p.listDeadLetters({ limit: 3 });
  const second = await p.listDeadLetters({ limit: 3, cursor: first.nextCursor });
  assert.equal([...first.items, ...second.items].map((d) => (d.item as { payload: { type: string } }).payload.type), ['E0', 'E1', 'E2', 'E3', 'E4']);
  assert.is(second.nextCursor, null);
});

test('deleteInstance cascades to children, refuses running ones without force, and changes nothing then', async (ctx) => {
  const { p } = ctx;
  await createInstance(p, 'root', { instance: { status: 'completed' } });
  await createInstance(p, 'kid', { instance: { status: 'running', parent: parent('root') } });
  await createInstance(p, 'grandkid', { instance: { status: 'completed', parent: parent('kid') } });
  await createInstance(p, 'bystander');
  await p.enqueueOrchestratorMessage(eventMessage('kid'));
  const before = await dumpTables(ctx.bed.url, ctx.bed.schema);
  const err = await expectError(p.deleteInstance('root'), InstanceRunningError);
  assert.is(err.info.instanceId, 'kid');
  assert.equal(await dumpTables(ctx.bed.url, ctx.bed.schema), before);
  assert.is(await p.deleteInstance('root', { force: true }), 3);
  assert.equal(await Promise.all(['root', 'kid', 'grandkid'].map((id) => p.getInstance(id))), [null, null, null]);
  assert.ok(await p.getInstance('bystander'));
  const dump = await dumpTables(ctx.bed.url, ctx.bed.schema);
  assert.equal([dump.orchestrator_queue!.length, dump.history!.length, dump.executions!.length], [0, 1, 1]);
  await expectError(p.deleteInstance('root'), InstanceNotFoundError);
});

test('purge deletes terminal instances completed before the time, with their children', async ({ p, clock }) => {
  await createInstance(p, 'old', { instance: { status: 'completed' } });
  await createInstance(p, 'old-kid', { instance: { status: 'failed', parent: parent('old') } });
  await createInstance(p, 'running');
  clock.advance(1000);
  await createInstance(p, 'recent', { instance: { status: 'terminated' } });
  assert.is(await p.purge(clock.now()), 2);
  assert.equal((await p.listInstances()).items.map((r) => r.instanceId), ['running', 'recent']);
});

test('now(): the injected clock; without one, the database clock', async ({ p, clock, bed }) => {
  assert.is(await p.now(), clock.now());
  const real = await bed.open({ listen: false });
  const a = await real.now();
  const b = await real.now();
  assert.ok(Number.isInteger(a) && b >= a);
  await real.close();
});

test.run();
