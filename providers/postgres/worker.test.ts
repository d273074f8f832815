import pg from 'pg';
import * as assert from 'uvu/assert';
import { InstanceExistsError, InvalidArgumentError, LockLostError } from '../errors.js';
import type { OrchestratorMessageInput, WorkItem } from '../contract.js';
import { createInstance, expectError, fetchOne, historyEvents, sampleDelta, startMessage, workItem } from '../../validation/conformance/helpers.js';
import { dumpTables, providerSuite, type ProviderSuiteContext } from './test-support.js';
import type { PostgresProvider } from './provider.js';
import { channelName } from './notifier.js';
import { sql } from '../../test/db.js';

const test = providerSuite('postgres worker queue', 'work');

const dump = (ctx: ProviderSuiteContext) => dumpTables(ctx.bed.url, ctx.bed.schema);
const completed = (w: WorkItem, output: number): OrchestratorMessageInput => ({
  instanceId: w.instanceId, kind: 'activityCompleted', payload: { activityId: w.activityId, output }, executionId: w.executionId,
});

/** One instance 'a' whose first turn scheduled `count` activities w0..w{count-1}, in that order. */
async function schedule(p: PostgresProvider, count: number): Promise<void> {
  await createInstance(p, 'a', { workItems: Array.from({ length: count }, (_, i) => workItem('a', `w${i}`)) });
}

test('peek-lock, FIFO: a locked item is invisible to others until its lock expires', async ({ p, clock }) => {
  await schedule(p, 3);
  const [first] = await p.fetchWorkItems({ lockMs: 1000 });
  assert.equal([first?.activityId, first?.attempt, first?.name], ['w0', 1, 'sampleActivity']);
  assert.is(first?.lockedUntil, clock.now() + 1000);
  const rest = await p.fetchWorkItems({ lockMs: 1000, max: 10 });
  assert.equal(rest.map((w) => w.activityId), ['w1', 'w2']);
  assert.equal(await p.fetchWorkItems({ lockMs: 1000, max: 10 }), []);
  clock.advance(1000);
  const again = await p.fetchWorkItems({ lockMs: 1000, max: 10 });
  assert.equal(again.map((w) => [w.activityId, w.attempt]), [['w0', 2], ['w1', 2], ['w2', 2]]);
});

test('concurrent batch fetchers never get the same item', async ({ bed, clock, p }) => {
  await schedule(p, 40);
  const fetchers = await Promise.all(Array.from({ length: 5 }, () => bed.open({ clock, listen: false, poolSize: 1 })));
  const got = (await Promise.all(fetchers.map((f) => f.fetchWorkItems({ lockMs: 60_000, max: 10 })))).flat();
  const more = (await Promise.all(fetchers.map((f) => f.fetchWorkItems({ lockMs: 60_000, max: 10 })))).flat();
  const ids = [...got, ...more].map((w) => w.activityId);
  assert.is(ids.length, 40);
  assert.is(new Set(ids).size, 40);
  await Promise.all(fetchers.map((f) => f.close()));
});

test('ack deletes the item and enqueues the result in one step', async ({ p }) => {
  await schedule(p, 1);
  const [w] = await p.fetchWorkItems({ lockMs: 1000 });
  await p.ackWorkItem(w!.lockToken, completed(w!, 42));
  assert.equal((await p.queueDepths()).worker, { visible: 0, delayed: 0, locked: 0 });
  const item = await fetchOne(p, 'a');
  assert.equal(item.messages.map((m) => [m.kind, m.payload, m.executionId]), [['activityCompleted', { activityId: 'w0', output: 42 }, 1]]);
  await expectError(p.ackWorkItem(w!.lockToken, completed(w!, 1)), LockLostError, 'second ack');
});

test('ack after cancel is LockLostError and nothing is enqueued', async (ctx) => {
  const { p } = ctx;
  await schedule(p, 1);
  const [w] = await p.fetchWorkItems({ lockMs: 60_000 });
  await p.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'event', payload: { type: 'CANCEL' } });
  const turn = await fetchOne(p, 'a');
  await p.ackOrchestrationItem(turn.lockToken, sampleDelta({ cancelActivities: ['w0'] }));
  const before = await dump(ctx);
  await expectError(p.ackWorkItem(w!.lockToken, completed(w!, 1)), LockLostError);
  await expectError(p.renewWorkItemLock(w!.lockToken, 1000), LockLostError);
  await expectError(p.abandonWorkItem(w!.lockToken), LockLostError);
  assert.equal(await dump(ctx), before);
});

test('an expired lock cannot ack, even before another fetcher takes the item', async (ctx) => {
  const { p, clock } = ctx;
  await schedule(p, 1);
  const [w] = await p.fetchWorkItems({ lockMs: 1000 });
  clock.advance(1000);
  const before = await dump(ctx);
  await expectError(p.ackWorkItem(w!.lockToken, completed(w!, 1)), LockLostError);
  await expectError(p.renewWorkItemLock(w!.lockToken, 1000), LockLostError);
  assert.equal(await dump(ctx), before);
});

test('renew extends the lock; abandon releases it for a retry after delayMs', async ({ p, clock }) => {
  await schedule(p, 1);
  const [w] = await p.fetchWorkItems({ lockMs: 1000 });
  clock.advance(900);
  assert.is(await p.renewWorkItemLock(w!.lockToken, 1000), clock.now() + 1000);
  clock.advance(900);
  assert.equal(await p.fetchWorkItems({ lockMs: 1000 }), [], 'still locked after the renewal');
  await p.abandonWorkItem(w!.lockToken, { delayMs: 300, countAttempt: false });
  assert.equal((await p.queueDepths()).worker, { visible: 0, delayed: 1, locked: 0 });
  assert.equal(await p.fetchWorkItems({ lockMs: 1000 }), [], 'not before the delay');
  clock.advance(300);
  const [retry] = await p.fetchWorkItems({ lockMs: 1000 });
  assert.equal([retry?.activityId, retry?.attempt], ['w0', 1]);
});

test('ack with deadLetterReason keeps the item in dead_letters; redrive puts it back with attempts reset', async ({ p }) => {
  await schedule(p, 1);
  const [w] = await p.fetchWorkItems({ lockMs: 1000 });
  await p.ackWorkItem(w!.lockToken, { instanceId: 'a', kind: 'activityFailed', payload: { activityId: 'w0', error: { name: 'E', message: 'x' } } }, { deadLetterReason: 'gave up' });
  const { items } = await p.listDeadLetters();
  assert.equal(items.map((d) => [d.queue, d.instanceId, d.reason]), [['worker', 'a', 'gave up']]);
  await p.redriveDeadLetter(items[0]!.id);
  assert.equal((await p.listDeadLetters()).items, []);
  const [again] = await p.fetchWorkItems({ lockMs: 1000 });
  assert.equal([again?.activityId, again?.attempt], ['w0', 1]);
  await expectError(p.redriveDeadLetter(items[0]!.id), InvalidArgumentError, 'redrive twice');
});

test('a failing ack (bad result) changes nothing and keeps the lock', async (ctx) => {
  const { p } = ctx;
  await schedule(p, 1);
  await p.enqueueOrchestratorMessage(startMessage('other'));
  const [w] = await p.fetchWorkItems({ lockMs: 60_000 });
  const before = await dump(ctx);
  // a second queued start for 'other' violates the one-start index inside the function
  await expectError(p.ackWorkItem(w!.lockToken, startMessage('other')), InstanceExistsError);
  await expectError(p.ackWorkItem(w!.lockToken, { instanceId: 'a', kind: 'nope' as never, payload: {} }), InvalidArgumentError);
  assert.equal(await dump(ctx), before);
  await p.renewWorkItemLock(w!.lockToken, 60_000);
});

test('bad fetch options are InvalidArgumentError', async ({ p }) => {
  await expectError(p.fetchWorkItems({ lockMs: 0 }), InvalidArgumentError);
  await expectError(p.fetchWorkItems({ lockMs: 1000, max: 0 }), InvalidArgumentError);
  await expectError(p.fetchOrchestrationItems({ lockMs: -1 }), InvalidArgumentError);
  await expectError(p.fetchOrchestrationItems({ lockMs: 1000, waitMs: -5 }), InvalidArgumentError);
});

// 008: one instance's results acked in one group commit come as one message, in ack order.
test('results of one instance acked together arrive as one activityResults message in ack order; others, and lone results, as before', async ({ p }) => {
  await schedule(p, 3);
  await createInstance(p, 'b', { workItems: [workItem('b', 'v0')] });
  const items = await p.fetchWorkItems({ lockMs: 60_000, max: 10 });
  assert.equal(items.map((w) => w.activityId), ['w0', 'w1', 'w2', 'v0']);
  const [w0, w1, w2, v0] = items as [WorkItem, WorkItem, WorkItem, WorkItem];
  const failed: OrchestratorMessageInput = { instanceId: 'a', kind: 'activityFailed', payload: { activityId: 'w1', error: { name: 'E', message: 'x' } }, executionId: 1 };
  // Submitted in one tick: the provider sends them as one statement (group-commit.ts).
  await Promise.all([p.ackWorkItem(w2.lockToken, completed(w2, 2)), p.ackWorkItem(v0.lockToken, completed(v0, 9)), p.ackWorkItem(w1.lockToken, failed), p.ackWorkItem(w0.lockToken, completed(w0, 0))]);
  const a = await fetchOne(p, 'a');
  assert.equal(a.messages.map((m) => [m.kind, m.executionId, m.payload]), [['activityResults', 1, { results: [
    { kind: 'activityCompleted', payload: { activityId: 'w2', output: 2 } },
    { kind: 'activityFailed', payload: { activityId: 'w1', error: { name: 'E', message: 'x' } } },
    { kind: 'activityCompleted', payload: { activityId: 'w0', output: 0 } },
  ] }]]);
  const b = await fetchOne(p, 'b');
  assert.equal(b.messages.map((m) => [m.kind, m.payload]), [['activityCompleted', { activityId: 'v0', output: 9 }]]);
});

test('a group holds at most 100 results; a result with a visibleAt stays a message of its own', async ({ p, bed, clock }) => {
  await schedule(p, 102);
  const items = await p.fetchWorkItems({ lockMs: 60_000, max: 102 });
  const acks = items.map((w, i) => ({ now: clock.now(), token: w.lockToken, result: { ...completed(w, i), ...(i === 50 ? { visibleAt: clock.now() } : {}) }, deadLetterReason: null }));
  const client = new pg.Client({ connectionString: bed.url });
  await client.connect();
  try {
    await client.query(`SELECT "${bed.schema}".ack_work_items($1::jsonb)`, [JSON.stringify(acks)]);
  } finally {
    await client.end();
  }
  const outputs = (m: { kind: string; payload: unknown }) =>
    m.kind === 'activityResults' ? (m.payload as { results: Array<{ payload: { output: number } }> }).results.map((r) => r.payload.output) : [(m.payload as { output: number }).output];
  const { messages } = await fetchOne(p, 'a');
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  assert.equal(messages.map((m) => [m.kind, outputs(m)]), [
    ['activityResults', [...range(0, 50), ...range(51, 101)]],
    ['activityCompleted', [50]],
    ['activityCompleted', [101]],
  ]);
});

// 007: the work ack's setting is transaction-local. Leaked into its pooled connection, it would make
// every later turn ack on that connection commit without the flush too.
test('a work ack commits without waiting for the WAL flush, a turn ack waits for it, and neither setting outlives its transaction', async ({ p, bed, clock }) => {
  await schedule(p, 1);
  const [w] = await p.fetchWorkItems({ lockMs: 60_000 });
  const s = `"${bed.schema}"`;
  const client = new pg.Client({ connectionString: bed.url });
  await client.connect();
  try {
    const setting = async () => (await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit as string;
    assert.is(await setting(), 'on', 'the connection\'s default');
    await client.query('BEGIN');
    const result = { instanceId: 'a', kind: 'activityCompleted', payload: { activityId: 'w0', output: 7 }, executionId: 1, visibleAt: null };
    const acked = await client.query(`SELECT ${s}.ack_work_items_async_commit($1::jsonb) AS r`,
      [JSON.stringify([{ now: clock.now(), token: w!.lockToken, result, deadLetterReason: null }])]);
    assert.equal(acked.rows[0].r, [{}]);
    assert.is(await setting(), 'off', 'inside the work ack\'s transaction');
    await client.query('COMMIT');
    assert.is(await setting(), 'on', 'the next transaction on the same connection');

    const item = await fetchOne(p, 'a');
    assert.equal(item.messages.map((m) => m.payload), [{ activityId: 'w0', output: 7 }], 'the committed ack enqueued the result');
    await client.query('BEGIN');
    const turned = await client.query(`SELECT ${s}.ack_orchestration_items($1::jsonb) AS r`,
      [JSON.stringify([{ now: clock.now(), token: item.lockToken, delta: sampleDelta({ history: historyEvents(1, 1, 1) }) }])]);
    assert.equal(turned.rows[0].r, [{ workItems: [] }]);
    assert.is(await setting(), 'on', 'inside the turn ack\'s transaction');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  assert.is((await p.getInstance('a'))?.historyLength, 2);
  assert.equal((await p.queueDepths()).worker, { visible: 0, delayed: 0, locked: 0 });
});


test('result dispatch: an instance\'s last result locks it in the ack\'s commit, handed to the first ack of it that asked; no fetcher is woken for it, one is for a result left queued', async ({ p, bed }) => {
  const listener = new pg.Client({ connectionString: bed.url });
  await listener.connect();
  try {
    let heard = 0;
    listener.on('notification', () => (heard += 1));
    await listener.query(`LISTEN "${channelName(bed.schema, 'orchestrator')}"`);
    await schedule(p, 2);
    await createInstance(p, 'b', { workItems: [workItem('b', 'v0')] });
    await createInstance(p, 'c', { workItems: [workItem('c', 'x0'), workItem('c', 'x1')] });
    const items = await p.fetchWorkItems({ lockMs: 60_000, max: 10 });
    const [w0, w1, v0, x0] = items as [WorkItem, WorkItem, WorkItem, WorkItem];
    const ask = { lockInstance: { lockMs: 30_000, owner: 'me' } };
    const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
    await settle();
    heard = 0;
    // One group commit (one tick): a's two results are merged and a is locked once, for w0's ack.
    const [forW0, forW1, forV0] = await Promise.all([p.ackWorkItem(w0.lockToken, completed(w0, 0), ask), p.ackWorkItem(w1.lockToken, completed(w1, 1), ask), p.ackWorkItem(v0.lockToken, completed(v0, 9), ask)]);
    assert.equal(forW0?.messages.map((m) => [m.kind, m.payload]), [['activityResults', { results: [
      { kind: 'activityCompleted', payload: { activityId: 'w0', output: 0 } },
      { kind: 'activityCompleted', payload: { activityId: 'w1', output: 1 } },
    ] }]]);
    assert.equal([forW0?.instanceId, forW0?.attempt, forW0?.instance?.instanceId], ['a', 1, 'a']);
    assert.is(forW0!.lockedUntil, forW0!.now + 30_000);
    assert.is(forW1, null, 'one item per instance');
    assert.equal([forV0?.instanceId, forV0?.messages.map((m) => m.kind)], ['b', ['activityCompleted']]);
    assert.equal((await p.fetchOrchestrationItems({ lockMs: 1000, max: 10 })).map((i) => i.instanceId), [], 'both locked by the acks');
    await settle();
    assert.is(heard, 0, 'nothing was left for a fetcher');
    assert.is(await p.ackWorkItem(x0.lockToken, completed(x0, 0), ask), null, 'x1 is still queued for c');
    await settle();
    assert.ok(heard >= 1, 'the result left queued wakes fetchers');
    assert.equal((await fetchOne(p, 'c')).messages.map((m) => m.kind), ['activityCompleted']);
  } finally {
    await listener.end();
  }
});

test('result dispatch of a big instance to the first of 150 acks of one group needs no temporary file (temp_file_limit 0)', async ({ bed }) => {
  // Version 14 sorted a copy of the item (the instance's ~60 kB context, here) per ack: ~9 MB, past work_mem.
  const pool = new pg.Pool({ connectionString: bed.url, max: 2, options: '-c temp_file_limit=0' });
  const q = await bed.open({ pool, groupSize: 150 });
  try {
    const ids = Array.from({ length: 150 }, (_, i) => `w${i}`);
    await createInstance(q, 'big', { instance: { context: { blob: 'x'.repeat(60_000) } }, workItems: ids.map((id) => workItem('big', id)) });
    const items = await q.fetchWorkItems({ lockMs: 60_000, max: 150 });
    assert.is(items.length, 150);
    const ask = { lockInstance: { lockMs: 30_000, owner: 'me' } };
    const answers = await Promise.all(items.map((w, i) => q.ackWorkItem(w.lockToken, completed(w, i), ask)));
    assert.equal([answers[0]?.instanceId, answers[0]?.messages[0]?.kind], ['big', 'activityResults']);
    assert.is((answers[0]?.instance?.context as { blob: string }).blob.length, 60_000);
    assert.ok(answers.slice(1).every((a) => a === null), 'one item, for the first ack');
  } finally {
    await q.close();
    await pool.end();
  }
});

test('result dispatch on a connection\'s first call: the ack reads the clock after queuing its results, so the lock it asks for sees them (5 fresh connections)', async ({ bed }) => {
  // On the database's own clock: the acks below carry no "now", as the provider's do.
  const real = await bed.open({ listen: false });
  try {
    const ids = ['f0', 'f1', 'f2', 'f3', 'f4'];
    for (const id of ids) await real.enqueueOrchestratorMessage(startMessage(id));
    const works: WorkItem[] = [];
    for (const id of ids) {
      const item = await fetchOne(real, id);
      works.push(...await real.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1), workItems: [workItem(id, 'w#1')] }), { lockWorkItems: { lockMs: 60_000, max: 1 } }));
    }
    for (const w of works) {
      // A new session compiles the functions on its first call, which takes milliseconds.
      const fresh = new pg.Client({ connectionString: bed.url });
      await fresh.connect();
      try {
        const result = { instanceId: w.instanceId, kind: 'activityCompleted', payload: { activityId: w.activityId, output: 1 }, executionId: 1 };
        const r = await fresh.query(`SELECT "${bed.schema}".ack_work_items_locking($1::jsonb) AS r`,
          [JSON.stringify([{ token: w.lockToken, result, lockInstance: { lockMs: 60_000, owner: 'fresh' } }])]);
        const [outcome] = r.rows[0].r as Array<{ item?: { instanceId: string; messages: unknown[] } }>;
        assert.equal([outcome?.item?.instanceId, outcome?.item?.messages.length], [w.instanceId, 1], `${w.instanceId} dispatched`);
      } finally {
        await fresh.end();
      }
    }
  } finally {
    await real.close();
  }
});

test('ds_lock_instances names each item\'s instance beside it, in the items\' order', async ({ p, bed, clock }) => {
  for (const id of ['b', 'a', 'c']) await p.enqueueOrchestratorMessage(startMessage(id));
  const r = await sql<{ items: Array<{ instanceId: string }>; claimed: number; item_ids: string[] }>(bed.url,
    `SELECT items, claimed, item_ids FROM "${bed.schema}".ds_lock_instances(ARRAY['a', 'b', 'c', 'none'], $1, $2, 'test')`, [clock.now(), clock.now() + 60_000]);
  assert.equal(r[0]!.items.map((i) => i.instanceId), ['b', 'a', 'c'], 'oldest first message first');
  assert.equal(r[0]!.item_ids, ['b', 'a', 'c']);
  assert.is(r[0]!.claimed, 4, "'none' is claimed and released again: it has no message");
});

test.run();
