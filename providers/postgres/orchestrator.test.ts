import pg from 'pg';
import * as assert from 'uvu/assert';
import { InstanceExistsError, InvalidArgumentError, LockLostError } from '../errors.js';
import type { OrchestrationItem } from '../contract.js';
import { sql } from '../../test/db.js';
import { countingPool } from '../../stress/bench/counting-pool.js';
import {
  createInstance, eventMessage, expectError, fetchNone, fetchOne, historyEvents, sampleDelta, startMessage, workItem,
} from '../../validation/conformance/helpers.js';
import { dumpTables, providerSuite, type ProviderSuiteContext } from './test-support.js';

const test = providerSuite('postgres orchestrator queue', 'orch');

const dump = (ctx: ProviderSuiteContext) => dumpTables(ctx.bed.url, ctx.bed.schema);

test('enqueue never creates the instance; the first ack does, consuming exactly the fetched messages', async ({ p }) => {
  await p.enqueueOrchestratorMessage(startMessage('a', { x: 1 }));
  await p.enqueueOrchestratorMessage(eventMessage('a', 'GO'));
  assert.is(await p.getInstance('a'), null);
  assert.is(await p.hasPendingStart('a'), true);
  const item = await fetchOne(p, 'a');
  assert.equal(item.messages.map((m) => [m.kind, m.attempt]), [['start', 1], ['event', 1]]);
  assert.is(item.instance, null);
  assert.is(item.executionId, 1);
  assert.is(item.attempt, 1);
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 2) }));
  const record = await p.getInstance('a');
  assert.ok(record);
  assert.is(record.historyLength, 2);
  assert.is(record.turns, 1);
  assert.is(await p.hasPendingStart('a'), false);
  await fetchNone(p);
});

test('groupSize bounds one group commit: 5 enqueues made together with groupSize 2 take 3 statements, in call order', async ({ bed }) => {
  const raw = new pg.Pool({ connectionString: bed.url, max: 2 });
  const { pool, counter } = countingPool(raw, bed.schema);
  try {
    const grouped = await bed.open({ pool, groupSize: 2, listen: false });
    counter.reset();
    const ids = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => grouped.enqueueOrchestratorMessage(startMessage(id))));
    const enqueues = Object.entries(counter.byStatement()).filter(([key]) => /enqueue/.test(key));
    assert.is(enqueues.reduce((n, [, count]) => n + count, 0), 3, JSON.stringify(enqueues));
    const rows = await sql<{ id: string; instance_id: string }>(bed.url, `SELECT id::text, instance_id FROM "${bed.schema}".orchestrator_queue ORDER BY id`);
    assert.equal(rows.map((r) => r.instance_id), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(rows.map((r) => r.id), ids.map((r) => r.id));
    await grouped.close();
  } finally {
    await raw.end();
  }
});

test('stored values (snapshot, context, state value, history data, work payloads) come back as sent, by the group ack and by the one-by-one path', async ({ p }) => {
  const values = (tag: string) => ({
    context: { tag, n: [1, 2.5, null], 'quote"': 'a\\b\u00e9' },
    stateValue: { parent: tag },
    snapshot: { machine: { value: tag }, pending: {}, counter: 3 },
  });
  const payload = (tag: string) => ({ input: { tag }, retry: { maxAttempts: 2 } });
  // 'a' goes through the set-based group ack; 'b' keeps a message, which only the one-by-one path does.
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const a = await fetchOne(p, 'a');
  await p.ackOrchestrationItem(a.lockToken, sampleDelta({
    instance: values('a'), history: historyEvents(1, 0, 2), workItems: [workItem('a', 'w#a', { payload: payload('a') })],
  }));
  await p.enqueueOrchestratorMessage(startMessage('b'));
  await p.enqueueOrchestratorMessage(eventMessage('b', 'LATER'));
  const b = await fetchOne(p, 'b');
  await p.ackOrchestrationItem(b.lockToken, sampleDelta({
    instance: values('b'), history: historyEvents(1, 0, 2), workItems: [workItem('b', 'w#b', { payload: payload('b') })],
    keepMessageIds: [b.messages[1]!.id],
  }));
  for (const id of ['a', 'b']) {
    const record = await p.getInstance(id);
    assert.equal([record?.context, record?.stateValue, record?.snapshot], Object.values(values(id)), id);
    const history: unknown[] = [];
    for await (const e of p.readHistory(id)) history.push(e.data);
    assert.equal(history, historyEvents(1, 0, 2).map((e) => e.data), `${id}'s history`);
  }
  const work = await p.fetchWorkItems({ max: 10, lockMs: 60_000 });
  assert.equal(work.map((w) => [w.activityId, w.payload]).sort(), [['w#a', payload('a')], ['w#b', payload('b')]]);
});

test('a groupSize that is not a positive integer is InvalidArgumentError', async ({ bed }) => {
  for (const groupSize of [0, 1.5, -3, Number.NaN]) {
    await expectError(bed.open({ groupSize }), InvalidArgumentError, `groupSize ${groupSize}`);
  }
});

test('a second start, queued or for an existing instance, is InstanceExistsError', async ({ p }) => {
  await createInstance(p, 'b');
  await p.enqueueOrchestratorMessage(startMessage('a'));
  await expectError(p.enqueueOrchestratorMessage(startMessage('a')), InstanceExistsError, 'start while one is queued');
  await expectError(p.enqueueOrchestratorMessage(startMessage('b')), InstanceExistsError, 'start of an existing instance');
});

test('concurrent starts of one instance: exactly one is queued', async ({ bed, clock }) => {
  const others = await Promise.all(Array.from({ length: 4 }, () => bed.open({ clock, listen: false, poolSize: 1 })));
  const results = await Promise.allSettled(others.map((o) => o.enqueueOrchestratorMessage(startMessage('race'))));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.instance(r.reason, InstanceExistsError);
  assert.equal(await sql(bed.url, `SELECT count(*)::int AS n FROM "${bed.schema}".orchestrator_queue`), [{ n: 1 }]);
  await Promise.all(others.map((o) => o.close()));
});

test('bad messages are InvalidArgumentError and nothing is written', async (ctx) => {
  const before = await dump(ctx);
  await expectError(ctx.p.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'bogus' as never, payload: {} }), InvalidArgumentError);
  await expectError(ctx.p.enqueueOrchestratorMessage({ instanceId: '', kind: 'event', payload: {} }), InvalidArgumentError);
  await expectError(ctx.p.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'event', payload: { d: new Date() } as never }), InvalidArgumentError);
  await expectError(ctx.p.enqueueOrchestratorMessage(eventMessage('a'), { visibleAt: Number.NaN }), InvalidArgumentError);
  assert.equal(await dump(ctx), before);
});

test('enqueues made together (one group commit) are queued in call order, and a refused one fails alone', async ({ p, bed }) => {
  await createInstance(p, 'exists');
  // Same tick: one statement. The second start of 'a' and the start of an existing instance are refused.
  const calls = [
    p.enqueueOrchestratorMessage(startMessage('a')),
    p.enqueueOrchestratorMessage(eventMessage('a', 'FIRST')),
    p.enqueueOrchestratorMessage(startMessage('a')),
    p.enqueueOrchestratorMessage(startMessage('exists')),
    p.enqueueOrchestratorMessage(eventMessage('b', 'LATER'), { visibleAt: (await p.now()) + 60_000 }),
    p.enqueueOrchestratorMessage(eventMessage('a', 'SECOND')),
  ];
  const [start, first, again, exists, later, second] = await Promise.allSettled(calls);
  assert.ok(again?.status === 'rejected' && again.reason instanceof InstanceExistsError, 'a second queued start is refused alone');
  assert.ok(exists?.status === 'rejected' && exists.reason instanceof InstanceExistsError, 'the start of an existing instance is refused alone');
  const ids = [start, first, later, second].map((r) => (r?.status === 'fulfilled' ? Number(r.value.id) : NaN));
  assert.equal([...ids].sort((x, y) => x - y), ids, 'ids follow the call order');
  const rows = await sql<{ id: string; instance_id: string; kind: string; type: string | null; delayed: boolean }>(bed.url, `
    SELECT id::text, instance_id, kind, payload->>'type' AS type, visible_at > enqueued_at AS delayed
    FROM "${bed.schema}".orchestrator_queue ORDER BY id`);
  assert.equal(rows.map((r) => [r.instance_id, r.kind, r.type, r.delayed]), [
    ['a', 'start', null, false], ['a', 'event', 'FIRST', false], ['b', 'event', 'LATER', true], ['a', 'event', 'SECOND', false],
  ]);
  assert.equal(rows.map((r) => Number(r.id)), ids);
  const item = await fetchOne(p, 'a');
  assert.equal(item.messages.map((m) => (m.payload as { type?: string }).type ?? m.kind), ['start', 'FIRST', 'SECOND']);
  // A group with nothing to refuse takes the set-based path: the same order, nothing lost.
  const valid = await Promise.all(['X', 'Y', 'Z'].map((type) => p.enqueueOrchestratorMessage(eventMessage('c', type))));
  const validIds = valid.map((v) => Number(v.id));
  assert.equal([...validIds].sort((x, y) => x - y), validIds);
  assert.equal((await fetchOne(p, 'c')).messages.map((m) => [Number(m.id), (m.payload as { type: string }).type]), [[validIds[0], 'X'], [validIds[1], 'Y'], [validIds[2], 'Z']]);
});

test('exclusive instance lock: 10 fetchers on separate connections take 10 instances exactly once', async ({ bed, clock, p }) => {
  for (let i = 0; i < 10; i++) await p.enqueueOrchestratorMessage(startMessage(`i${i}`));
  const fetchers = await Promise.all(Array.from({ length: 10 }, () => bed.open({ clock, listen: false, poolSize: 1 })));
  const got = (await Promise.all(fetchers.map((f) => f.fetchOrchestrationItems({ lockMs: 60_000 })))).flat();
  // Every fetcher tries again: none may get an instance another one holds.
  const again = (await Promise.all(fetchers.map((f) => f.fetchOrchestrationItems({ lockMs: 60_000, max: 10 })))).flat();
  const ids = [...got, ...again].map((i) => i.instanceId).sort();
  assert.equal(ids, Array.from({ length: 10 }, (_, i) => `i${i}`).sort());
  assert.is(new Set([...got, ...again].map((i) => i.lockToken)).size, 10);
  await Promise.all(fetchers.map((f) => f.close()));
});

test('concurrent batch fetchers skip what others are taking instead of starving: 10 x max 3 take all 30 instances once', async ({ bed, clock, p }) => {
  const all = Array.from({ length: 30 }, (_, i) => `i${String(i).padStart(2, '0')}`);
  for (const id of all) await p.enqueueOrchestratorMessage(startMessage(id));
  const fetchers = await Promise.all(Array.from({ length: 10 }, () => bed.open({ clock, listen: false, poolSize: 1 })));
  const got = (await Promise.all(fetchers.map((f) => f.fetchOrchestrationItems({ lockMs: 60_000, max: 3 })))).flat();
  assert.equal(got.map((i) => i.instanceId).sort(), all);
  await Promise.all(fetchers.map((f) => f.close()));
});

test('an instance whose lock expired takes its place among the free ones by its oldest message', async ({ p, clock }) => {
  await p.enqueueOrchestratorMessage(startMessage('held'));
  await p.enqueueOrchestratorMessage(startMessage('old'));
  await p.enqueueOrchestratorMessage(startMessage('late'));
  const held = await p.fetchOrchestrationItems({ lockMs: 60_000, max: 1 });
  const expiring = await p.fetchOrchestrationItems({ lockMs: 1_000, max: 1 });
  assert.equal([...held, ...expiring].map((i) => i.instanceId), ['held', 'old']);
  clock.advance(10);
  await p.enqueueOrchestratorMessage(startMessage('new'));
  // 'held' goes back free with its message, older than 'old''s; 'old''s lock expires; 'new' is newer.
  await p.abandonOrchestrationItem(held[0]!.lockToken);
  clock.advance(5_000);
  const order = await p.fetchOrchestrationItems({ lockMs: 60_000, max: 10 });
  assert.equal(order.map((i) => i.instanceId), ['held', 'old', 'late', 'new']);
});

test('max counts the instances whose lock expired: two expired and one free, max 1 hands out one at a time', async ({ p, clock }) => {
  for (const id of ['x', 'y']) await p.enqueueOrchestratorMessage(startMessage(id));
  assert.is((await p.fetchOrchestrationItems({ lockMs: 1_000, max: 2 })).length, 2);
  await p.enqueueOrchestratorMessage(eventMessage('x', 'MORE'));
  await p.enqueueOrchestratorMessage(startMessage('z'));
  clock.advance(5_000);
  const taken: string[] = [];
  for (let i = 0; i < 3; i++) {
    const items = await p.fetchOrchestrationItems({ lockMs: 60_000, max: 1 });
    assert.is(items.length, 1, `fetch ${i + 1} with max 1`);
    taken.push(items[0]!.instanceId);
  }
  assert.equal(taken, ['x', 'y', 'z']);
  await fetchNone(p);
});

test('fetch max: distinct instances, oldest visible message first', async ({ p, clock }) => {
  await p.enqueueOrchestratorMessage(eventMessage('c'));
  clock.advance(1);
  await p.enqueueOrchestratorMessage(eventMessage('a'));
  clock.advance(1);
  await p.enqueueOrchestratorMessage(eventMessage('c'));
  await p.enqueueOrchestratorMessage(eventMessage('b'));
  const items = await p.fetchOrchestrationItems({ lockMs: 1000, max: 2 });
  assert.equal(items.map((i) => [i.instanceId, i.messages.length]), [['c', 2], ['a', 1]]);
});

test('messages arriving while an instance is locked are not fetched by others and survive the ack', async ({ bed, clock, p }) => {
  await createInstance(p, 'a');
  await p.enqueueOrchestratorMessage(eventMessage('a', 'FIRST'));
  const item = await fetchOne(p, 'a');
  await p.enqueueOrchestratorMessage(eventMessage('a', 'LATE'));
  const other = await bed.open({ clock, listen: false, poolSize: 1 });
  assert.equal(await other.fetchOrchestrationItems({ lockMs: 1000, max: 10 }), []);
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 1, 1) }));
  const next = await fetchOne(other, 'a');
  assert.equal(next.messages.map((m) => (m.payload as { type: string }).type), ['LATE']);
  assert.is(next.messages[0]!.attempt, 1);
  await other.close();
});

test('lock expiry: another fetcher takes over; the old token then changes nothing', async (ctx) => {
  const { bed, clock, p } = ctx;
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const first = await fetchOne(p, 'a', 1000);
  const other = await bed.open({ clock, listen: false, poolSize: 1 });
  assert.equal(await other.fetchOrchestrationItems({ lockMs: 1000 }), [], 'not before expiry');
  clock.advance(1000);
  const second = await fetchOne(other, 'a', 5000);
  assert.is(second.attempt, 2);
  assert.equal(second.messages.map((m) => m.id), first.messages.map((m) => m.id));
  const before = await dump(ctx);
  await expectError(p.ackOrchestrationItem(first.lockToken, sampleDelta()), LockLostError, 'stale ack');
  await expectError(p.renewOrchestrationLock(first.lockToken, 1000), LockLostError, 'stale renew');
  await expectError(p.abandonOrchestrationItem(first.lockToken), LockLostError, 'stale abandon');
  assert.equal(await dump(ctx), before);
  await other.ackOrchestrationItem(second.lockToken, sampleDelta());
  assert.ok(await p.getInstance('a'));
  await other.close();
});

test('an expired lock is not revived by renew, even before anyone takes over', async ({ p, clock }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const item = await fetchOne(p, 'a', 1000);
  assert.is(await p.renewOrchestrationLock(item.lockToken, 2000), clock.now() + 2000);
  clock.advance(2000);
  await expectError(p.renewOrchestrationLock(item.lockToken, 2000), LockLostError);
  await expectError(p.ackOrchestrationItem(item.lockToken, sampleDelta()), LockLostError);
});

test('unknown or malformed tokens are LockLostError', async ({ p }) => {
  await expectError(p.ackOrchestrationItem('not-a-uuid', sampleDelta()), LockLostError);
  await expectError(p.renewOrchestrationLock('00000000-0000-4000-8000-000000000000', 1000), LockLostError);
  await expectError(p.abandonOrchestrationItem('00000000-0000-4000-8000-000000000000'), LockLostError);
});

test('ack atomicity: an ack failing midway leaves every table as it was and the lock held', async (ctx) => {
  const { p } = ctx;
  await createInstance(p, 'a');
  await p.enqueueOrchestratorMessage(eventMessage('a'));
  const item = await fetchOne(p, 'a');
  const before = await dump(ctx);
  const failing = [
    // duplicate of the stored seq 0, after the instance row was already updated in the same statement
    sampleDelta({ history: historyEvents(1, 0, 1), timers: [{ timerId: 't', fireAt: 5, executionId: 1, payload: {} }] }),
    // a constraint violated by the last insert of the function (two queued work items with one id)
    sampleDelta({ history: historyEvents(1, 1, 1), workItems: [workItem('a', 'x'), workItem('a', 'x')] }),
    // history for an execution this ack does not write
    sampleDelta({ history: historyEvents(7, 0, 1) }),
    // a kept id that was not fetched with this lock
    sampleDelta({ keepMessageIds: ['999999'] }),
    // an execution older than the stored one
    sampleDelta({ instance: { executionId: 0 } }),
  ];
  for (const delta of failing) {
    await expectError(p.ackOrchestrationItem(item.lockToken, delta), InvalidArgumentError);
    assert.equal(await dump(ctx), before);
  }
  // the lock is still held: renew works and the instance is not fetchable by anyone
  await p.renewOrchestrationLock(item.lockToken, 60_000);
  await fetchNone(p);
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 1, 1) }));
  assert.is((await p.getInstance('a'))!.historyLength, 2);
});

test('ack writes timers and work items, cancels them by id (work items even while locked)', async ({ p, clock }) => {
  await createInstance(p, 'a', {
    timers: [{ timerId: 't1', fireAt: clock.now() + 10_000, executionId: 1, payload: { event: { type: 'T' } } }],
    workItems: [workItem('a', 'w1')],
  });
  const [locked] = await p.fetchWorkItems({ lockMs: 60_000 });
  assert.is(locked?.activityId, 'w1');
  await p.enqueueOrchestratorMessage(eventMessage('a'));
  const item = await fetchOne(p, 'a');
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({
    cancelTimers: ['t1', 'unknown'], cancelActivities: ['w1', 'unknown'],
    // re-created under the same ids in the same turn
    timers: [{ timerId: 't1', fireAt: clock.now() + 5_000, executionId: 1, payload: { n: 2 } }],
  }));
  await expectError(p.renewWorkItemLock(locked!.lockToken, 1000), LockLostError, 'the cancelled activity lost its lock');
  assert.equal(await p.fetchWorkItems({ lockMs: 1000 }), []);
  await fetchNone(p, 'the new timer is not due');
  clock.advance(5_000);
  const fired = await fetchOne(p, 'a');
  assert.equal(fired.messages.map((m) => [m.kind, m.timerId, m.payload]), [['timerFired', 't1', { n: 2 }]]);
});

test('keepMessageIds go back unlocked; deadLetterMessageIds move to dead_letters', async ({ p }) => {
  await createInstance(p, 'a');
  for (const type of ['A', 'B', 'C']) await p.enqueueOrchestratorMessage(eventMessage('a', type));
  const item = await fetchOne(p, 'a');
  const [a, b, c] = item.messages;
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ keepMessageIds: [b!.id], deadLetterMessageIds: [c!.id], deadLetterReason: 'poison' }));
  const next = await fetchOne(p, 'a');
  assert.equal(next.messages.map((m) => m.id), [b!.id]);
  const dead = await p.listDeadLetters();
  assert.equal(dead.items.map((d) => [d.queue, d.instanceId, d.reason, (d.item as { id: string }).id]), [['orchestrator', 'a', 'poison', c!.id]]);
  assert.ok(a);
});

test('continue-as-new closes the old execution and opens the new one with fresh history', async (ctx) => {
  const { p, bed } = ctx;
  await createInstance(p, 'a');
  await p.enqueueOrchestratorMessage(eventMessage('a'));
  const item = await fetchOne(p, 'a');
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({
    instance: { executionId: 2, input: { round: 2 } },
    history: [...historyEvents(1, 1, 1, 'continuedAsNew'), ...historyEvents(2, 0, 3, 'started')],
  }));
  const record = (await p.getInstance('a'))!;
  assert.equal([record.executionId, record.historyLength, record.input, record.turns], [2, 3, { round: 2 }, 2]);
  const executions = await sql(bed.url, `SELECT execution_id, status, input, completed_at IS NOT NULL AS closed FROM "${bed.schema}".executions ORDER BY 1`);
  assert.equal(executions, [
    { execution_id: 1, status: 'continued', input: null, closed: true },
    { execution_id: 2, status: 'running', input: { round: 2 }, closed: false },
  ]);
});

test('an ack that passes executions records each as continued with its own input', async (ctx) => {
  const { p, bed } = ctx;
  await p.enqueueOrchestratorMessage(startMessage('a', { round: 1 }));
  await p.enqueueOrchestratorMessage(eventMessage('a'));
  const item = await fetchOne(p, 'a');
  // The first ack continues twice: executions 1 and 2 are opened and closed by it.
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({
    instance: { executionId: 3, status: 'completed', input: { round: 3 }, passedExecutionInputs: [{ round: 1 }, { round: 2 }] },
    history: [...historyEvents(1, 0, 2), ...historyEvents(2, 0, 1, 'started'), ...historyEvents(3, 0, 1, 'started')],
  }));
  const executions = await sql(bed.url, `SELECT execution_id, status, input, completed_at IS NOT NULL AS closed FROM "${bed.schema}".executions ORDER BY 1`);
  assert.equal(executions, [
    { execution_id: 1, status: 'continued', input: { round: 1 }, closed: true },
    { execution_id: 2, status: 'continued', input: { round: 2 }, closed: true },
    { execution_id: 3, status: 'completed', input: { round: 3 }, closed: true },
  ]);
});

test('a suspended instance is fetchable only through terminate/resume, and only those are handed out', async ({ p }) => {
  await createInstance(p, 'a', { instance: { status: 'suspended' } });
  await p.enqueueOrchestratorMessage(eventMessage('a'));
  await fetchNone(p, 'events wait while suspended');
  await p.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'resume', payload: {} });
  const item = await fetchOne(p, 'a');
  assert.equal(item.messages.map((m) => m.kind), ['resume']);
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { status: 'running' } }));
  assert.equal((await fetchOne(p, 'a')).messages.map((m) => m.kind), ['event']);
});

test('a child start in an ack obeys the start rule', async ({ p }) => {
  await createInstance(p, 'child');
  await p.enqueueOrchestratorMessage(startMessage('parent'));
  const item = await fetchOne(p, 'parent');
  await expectError(p.ackOrchestrationItem(item.lockToken, sampleDelta({ messages: [startMessage('child')] })), InstanceExistsError);
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ messages: [startMessage('child2')] }));
  assert.is(await p.hasPendingStart('child2'), true);
});

test('abandon: the instance comes back after delayMs; countAttempt false does not count the fetch', async ({ p, clock }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const first = await fetchOne(p, 'a');
  await p.abandonOrchestrationItem(first.lockToken, { delayMs: 500, countAttempt: false });
  await expectError(p.abandonOrchestrationItem(first.lockToken), LockLostError, 'abandon twice');
  await fetchNone(p, 'not before the delay');
  clock.advance(500);
  const second = await fetchOne(p, 'a');
  assert.is(second.attempt, 1);
  await p.abandonOrchestrationItem(second.lockToken);
  assert.is((await fetchOne(p, 'a')).attempt, 2);
});

test('abandon with a delay keeps visible_at and holds the instance_locks row under a new token until the delay ends', async ({ p, clock, bed }) => {
  const rows = (table: string) => sql<Record<string, unknown>>(bed.url, `SELECT * FROM "${bed.schema}".${table}`);
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const [enqueued] = await rows('orchestrator_queue');
  const item = await fetchOne(p, 'a');
  await p.abandonOrchestrationItem(item.lockToken, { delayMs: 700 });
  const [message] = await rows('orchestrator_queue');
  assert.equal([message?.visible_at, message?.lock_token], [enqueued?.visible_at, null], 'unlocked, visible_at untouched');
  const locks = await rows('instance_locks');
  assert.equal(locks.map((l) => [l.instance_id, Number(l.locked_until), l.owner]), [['a', clock.now() + 700, null]]);
  assert.is.not(locks[0]?.lock_token, item.lockToken);
});

/** Runs `body` in a transaction of its own, rolled back afterwards. */
async function rolledBack<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    return await body(client);
  } finally {
    await client.query('ROLLBACK');
    await client.end();
  }
}

/** Queue rows the current transaction has read through indexes so far. */
async function queueRowsRead(client: pg.Client, schema: string): Promise<number> {
  return (await client.query(`SELECT pg_stat_get_xact_tuples_fetched($1::regclass)::int AS n`, [`"${schema}".orchestrator_queue`])).rows[0].n as number;
}

test('handing messages out marks them in place: every mark is a heap-only update (no index entry per message)', async ({ p, clock, bed }) => {
  for (const id of ['a', 'b', 'c']) {
    await p.enqueueOrchestratorMessage(startMessage(id));
    await p.enqueueOrchestratorMessage(eventMessage(id, 'GO'));
  }
  // The counters of the current transaction: the fetch and the reading share one.
  await rolledBack(bed.url, async (c) => {
    const fetched = await c.query(`SELECT json_array_length("${bed.schema}".fetch_orchestration_items($1, 30000, 10, 'hot-test')) AS n`, [clock.now()]);
    assert.is(fetched.rows[0].n, 3, 'three instances handed out');
    const counts = await c.query(
      `SELECT pg_stat_get_xact_tuples_updated(c.oid)::int AS updated, pg_stat_get_xact_tuples_hot_updated(c.oid)::int AS hot
       FROM pg_class c WHERE c.oid = $1::regclass`, [`"${bed.schema}".orchestrator_queue`]);
    assert.equal(counts.rows[0], { updated: 6, hot: 6 });
  });
});

test('the turn that ends an execution rewrites its row on its own page, though later executions filled the pages', async ({ p, bed }) => {
  const ids = Array.from({ length: 400 }, (_, i) => `e${String(i).padStart(3, '0')}`);
  const fetchAll = async (n: number) => {
    const items: OrchestrationItem[] = [];
    while (items.length < n) {
      const batch = await p.fetchOrchestrationItems({ lockMs: 30_000, max: n - items.length });
      assert.ok(batch.length > 0, 'every queued instance is fetchable');
      items.push(...batch);
    }
    return items;
  };
  await Promise.all(ids.map((id) => p.enqueueOrchestratorMessage(startMessage(id))));
  await Promise.all((await fetchAll(ids.length)).map((item) =>
    p.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1, 'started') }))));
  const pages = async () => Object.fromEntries((await sql<{ id: string; page: number }>(bed.url,
    `SELECT instance_id AS id, (ctid::text::point)[0]::int AS page FROM "${bed.schema}".executions`)).map((r) => [r.id, r.page]));
  const before = await pages();
  assert.ok(Math.max(...Object.values(before)) >= 1, 'the executions fill more than one page');

  // Every other one of the oldest executions ends: half the rows of the first pages filled, so each
  // page needs room for half its rows again, whenever the server gets to prune the old versions.
  const ending = ids.slice(0, 200).filter((_, i) => i % 2 === 0);
  await Promise.all(ending.map((id) => p.enqueueOrchestratorMessage(eventMessage(id, 'END'))));
  await Promise.all((await fetchAll(ending.length)).map((item) =>
    p.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { status: 'completed', output: 1 }, history: historyEvents(1, 1, 1) }))));
  const after = await pages();
  assert.equal(await sql(bed.url, `SELECT count(*)::int AS n FROM "${bed.schema}".executions WHERE status = 'completed'`), [{ n: 100 }]);
  assert.equal(ending.filter((id) => after[id] !== before[id]), [], 'rows moved to another page');
});

test('an ack and an abandon read only the batch, not the instance\'s queued future messages (2,000 of them)', async ({ p, clock, bed }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  await Promise.all(Array.from({ length: 2000 }, (_, i) => p.enqueueOrchestratorMessage(eventMessage('a', `LATER${i}`), { visibleAt: clock.now() + 3_600_000 })));
  const item = await fetchOne(p, 'a');
  assert.is(item.messages.length, 1);
  const s = `"${bed.schema}"`;
  const delta = sampleDelta({ history: historyEvents(1, 0, 1) });
  await rolledBack(bed.url, async (c) => {
    const r = await c.query(`SELECT ${s}.ack_orchestration_items($1::jsonb) AS r`, [JSON.stringify([{ now: clock.now(), token: item.lockToken, delta }])]);
    assert.equal(r.rows[0].r, [{ workItems: [] }]);
    const read = await queueRowsRead(c, bed.schema);
    assert.ok(read < 20, `the group ack read ${read} queue rows`);
    const left = await c.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE kind = 'start')::int AS starts FROM ${s}.orchestrator_queue`);
    assert.equal(left.rows[0], { n: 2000, starts: 0 }, 'the start consumed, the future messages kept');
  });
  await rolledBack(bed.url, async (c) => {
    await c.query(`SELECT ${s}.ack_orchestration_item($1, $2::uuid, $3::jsonb)`, [clock.now(), item.lockToken, JSON.stringify(delta)]);
    const read = await queueRowsRead(c, bed.schema);
    assert.ok(read < 20, `the one-by-one ack read ${read} queue rows`);
  });
  await rolledBack(bed.url, async (c) => {
    await c.query(`SELECT ${s}.abandon_orchestration_item($1, $2::uuid, 0, true)`, [clock.now(), item.lockToken]);
    const read = await queueRowsRead(c, bed.schema);
    assert.ok(read < 20, `the abandon read ${read} queue rows`);
    const marked = await c.query(`SELECT count(*)::int AS n FROM ${s}.orchestrator_queue WHERE lock_token IS NOT NULL`);
    assert.is(marked.rows[0].n, 0, 'the batch is unmarked');
  });
});

test('an ack notifies watchers of the instance', async ({ p }) => {
  const seen: string[] = [];
  const stop = p.watchInstance('a', (id) => seen.push(id));
  await createInstance(p, 'a');
  for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  stop();
  assert.equal(seen, ['a']);
});

test('acks sent together (one group commit) succeed or fail each on its own', async ({ p }) => {
  for (const id of ['a', 'b', 'c']) await p.enqueueOrchestratorMessage(startMessage(id));
  const items = await p.fetchOrchestrationItems({ lockMs: 60_000, max: 3 });
  const byId = Object.fromEntries(items.map((i) => [i.instanceId, i]));
  // Same tick: one statement. b repeats a history seq, c uses a token that holds nothing.
  const acks = [
    p.ackOrchestrationItem(byId.a!.lockToken, sampleDelta({ history: historyEvents(1, 0, 1), workItems: [workItem('a', 'w')] })),
    p.ackOrchestrationItem(byId.b!.lockToken, sampleDelta({ history: [...historyEvents(1, 0, 1), ...historyEvents(1, 0, 1)], workItems: [workItem('b', 'w')] })),
    p.ackOrchestrationItem('00000000-0000-4000-8000-000000000000', sampleDelta()),
  ];
  const [a, b, c] = await Promise.allSettled(acks);
  assert.is(a?.status, 'fulfilled');
  assert.ok(b?.status === 'rejected' && b.reason instanceof InvalidArgumentError, 'the duplicate seq is refused alone');
  assert.ok(c?.status === 'rejected' && c.reason instanceof LockLostError, 'the stale token is refused alone');
  assert.is((await p.getInstance('a'))?.historyLength, 1);
  assert.is(await p.getInstance('b'), null, 'nothing of b was written');
  assert.equal((await p.fetchWorkItems({ lockMs: 1000, max: 10 })).map((w) => w.instanceId), ['a']);
  // b still holds its lock and its messages: it can commit a correct turn.
  await p.ackOrchestrationItem(byId.b!.lockToken, sampleDelta({ history: historyEvents(1, 0, 1) }));
  assert.is((await p.getInstance('b'))?.historyLength, 1);
});

test('a group ack inserts the work items each ack takes already locked: up to its max of the visible ones, oldest first', async ({ p }) => {
  for (const id of ['a', 'b']) await createInstance(p, id);
  for (const id of ['a', 'b']) await p.enqueueOrchestratorMessage(eventMessage(id, 'GO'));
  const items = await p.fetchOrchestrationItems({ lockMs: 60_000, max: 2 });
  const byId = Object.fromEntries(items.map((i) => [i.instanceId, i]));
  const now = await p.now();
  // One group (same tick): a has an item made visible in the past (older than its others) and a delayed one.
  const [a, b] = await Promise.all([
    p.ackOrchestrationItem(byId.a!.lockToken, sampleDelta({
      history: historyEvents(1, 1, 1),
      workItems: [workItem('a', 'w1'), workItem('a', 'w2'), workItem('a', 'w3', { visibleAt: now - 5000 }), workItem('a', 'w4', { visibleAt: now + 10_000 })],
    }), { lockWorkItems: { lockMs: 1000, max: 2, owner: 'me' } }),
    p.ackOrchestrationItem(byId.b!.lockToken, sampleDelta({ history: historyEvents(1, 1, 1), workItems: [workItem('b', 'x1'), workItem('b', 'x2')] }),
      { lockWorkItems: { lockMs: 1000, max: 5 } }),
  ]);
  assert.equal(a.map((w) => [w.activityId, w.attempt, w.lockedUntil - w.now]), [['w3', 1, 1000], ['w1', 1, 1000]]);
  assert.equal(b.map((w) => [w.activityId, w.instanceId]), [['x1', 'b'], ['x2', 'b']]);
  assert.ok([...a, ...b].every((w) => w.now === now), 'each taken at its ack\'s time');
  assert.equal((await p.fetchWorkItems({ lockMs: 1000, max: 10 })).map((w) => [w.activityId, w.attempt]), [['w2', 1]], 'the rest is free, the delayed one not yet visible');
  await p.ackWorkItem(a[0]!.lockToken, eventMessage('a', 'DONE'));
});

test('a constraint violation in the set-based ack of a batch falls back to one by one: only the offender fails', async ({ p }) => {
  for (const id of ['a', 'b', 'c', 'd']) await createInstance(p, id);
  for (const id of ['a', 'b', 'c', 'd']) await p.enqueueOrchestratorMessage(eventMessage(id, 'GO'));
  const items = await p.fetchOrchestrationItems({ lockMs: 60_000, max: 4 });
  const byId = Object.fromEntries(items.map((i) => [i.instanceId, i]));
  // All four qualify for the set-based path; b rewrites seq 0, which is stored already; d starts
  // a child that exists (a). Both raise only once the rows are written: the batch is redone one by one.
  const lockWork = { lockWorkItems: { lockMs: 1000, max: 5 } };
  const acks = [
    p.ackOrchestrationItem(byId.a!.lockToken, sampleDelta({ history: historyEvents(1, 1, 1), workItems: [workItem('a', 'w')] }), lockWork),
    p.ackOrchestrationItem(byId.b!.lockToken, sampleDelta({ history: historyEvents(1, 0, 2) })),
    p.ackOrchestrationItem(byId.c!.lockToken, sampleDelta({ history: historyEvents(1, 1, 2) })),
    p.ackOrchestrationItem(byId.d!.lockToken, sampleDelta({ history: historyEvents(1, 1, 1), messages: [startMessage('a')] })),
  ];
  const [a, b, c, d] = await Promise.allSettled(acks);
  assert.ok(a?.status === 'fulfilled' && a.value.map((w) => w.activityId).join() === 'w', 'a committed and took its work item');
  assert.ok(b?.status === 'rejected' && b.reason instanceof InvalidArgumentError, 'the stored seq is refused alone');
  assert.is(c?.status, 'fulfilled');
  assert.ok(d?.status === 'rejected' && d.reason instanceof InstanceExistsError, 'the start of an existing child is refused alone');
  assert.equal(await Promise.all(['a', 'b', 'c', 'd'].map(async (id) => (await p.getInstance(id))?.historyLength)), [2, 1, 3, 1]);
  assert.equal(await Promise.all(['a', 'b', 'c', 'd'].map(async (id) => (await p.getInstance(id))?.turns)), [2, 1, 2, 1]);
  // b and d still hold their locks and their messages.
  await fetchNone(p);
  await p.ackOrchestrationItem(byId.b!.lockToken, sampleDelta({ history: historyEvents(1, 1, 1) }));
  await p.ackOrchestrationItem(byId.d!.lockToken, sampleDelta({ history: historyEvents(1, 1, 1) }));
  assert.equal(await Promise.all(['b', 'd'].map(async (id) => (await p.getInstance(id))?.historyLength)), [2, 2]);
});

test('an ack waiting for its group commit stores the delta as it was when called, not as its caller changed it since', async ({ p }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const item = await fetchOne(p, 'a');
  const delta = sampleDelta({ instance: { context: { step: 1 } }, history: historyEvents(1, 0, 1), workItems: [workItem('a', 'w')] });
  const acked = p.ackOrchestrationItem(item.lockToken, delta);
  // The batch goes out on a later tick: change everything the caller still holds before it does.
  (delta.instance.context as { step: number }).step = 2;
  (delta.history[0]!.data as { i: number }).i = 99;
  (delta.workItems[0]!.payload as { activityId: string }).activityId = 'changed';
  delta.history.push(...historyEvents(1, 1, 1));
  await acked;
  const record = await p.getInstance('a');
  assert.equal(record?.context, { step: 1 });
  assert.is(record?.historyLength, 1);
  const events = [];
  for await (const e of p.readHistory('a')) events.push(e.data);
  assert.equal(events, [{ i: 0 }]);
  assert.equal((await p.fetchWorkItems({ lockMs: 1000, max: 10 })).map((w) => w.payload), [{ activityId: 'w' }]);
});

test.run();
