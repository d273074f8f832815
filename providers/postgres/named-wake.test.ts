/**
 * A long-poll woken by one lone enqueue's NOTIFY, which names its instance, after a fetch that left
 * nothing behind, locks that instance alone (fetch_orchestration_instance) instead of scanning the
 * queue (013_wake_before_flush.sql). Statements are counted by name through the provider's pool.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { sql, stopTestServer } from '../../test/db.js';
import { countingPool, type QueryCounter } from '../../stress/bench/counting-pool.js';
import { eventMessage, historyEvents, sampleDelta, startMessage } from '../../validation/conformance/helpers.js';
import type { PostgresProvider } from './provider.js';
import { NEVER, postgresTestBed, truncateAll, type PostgresTestBed } from './test-support.js';

const test = suite<{ bed: PostgresTestBed; raw: pg.Pool }>('postgres long-poll woken by a NOTIFY that names its instance');


test.before(async (ctx) => {
  ctx.bed = await postgresTestBed('named');
});
test.before.each(async (ctx) => {
  await truncateAll(ctx.bed.url, ctx.bed.schema);
  ctx.raw = new pg.Pool({ connectionString: ctx.bed.url, max: 2 });
});
test.after.each(async (ctx) => {
  await ctx.bed.closeProviders();
  await ctx.raw.end();
});
test.after(async (ctx) => {
  await ctx.bed.close();
  await stopTestServer();
});

/** A listening fetcher on the database clock whose statements are counted, long-polling once its first (empty) fetch is done. */
async function waitingFetcher(ctx: { bed: PostgresTestBed; raw: pg.Pool }): Promise<{ fetcher: PostgresProvider; counter: QueryCounter; waiting: ReturnType<PostgresProvider['fetchOrchestrationItems']> }> {
  const { pool, counter } = countingPool(ctx.raw, ctx.bed.schema);
  const fetcher = await ctx.bed.open({ pool, pollIntervalMs: NEVER, safetyIntervalMs: NEVER });
  counter.reset(); // opening reads the database clock
  const waiting = fetcher.fetchOrchestrationItems({ lockMs: 60_000, waitMs: 30_000, max: 10 });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(counter.byStatement(), { fetch_orch: 1 }, 'the long-poll fetched once and is waiting');
  return { fetcher, counter, waiting };
}

test('one lone enqueue wakes it: that instance alone is locked and handed out, without a second scan of the queue', async (ctx) => {
  const { fetcher, counter, waiting } = await waitingFetcher(ctx);
  const sender = await ctx.bed.open({ listen: false });
  await sender.enqueueOrchestratorMessage(startMessage('a', 1));
  const items = await waiting;
  assert.equal(items.map((i) => [i.instanceId, i.messages.map((m) => m.kind)]), [['a', ['start']]]);
  assert.equal(counter.byStatement(), { fetch_orch: 1, fetch_orch_one: 1 });
  // A real lock: the turn acks under its token.
  await fetcher.ackOrchestrationItem(items[0]!.lockToken, sampleDelta({ history: historyEvents(1, 0, 1) }));
  assert.is((await fetcher.getInstance('a'))?.turns, 1);
  // The queue counts as drained again: the next long-poll waits without a first query.
  const again = fetcher.fetchOrchestrationItems({ lockMs: 60_000, waitMs: 200, max: 10 });
  assert.equal(await again, []);
  assert.is(counter.byStatement().fetch_orch, 2, 'only the query at the deadline');
});

test('a group of enqueues names no instance: the full fetch hands all of them out', async (ctx) => {
  const { counter, waiting } = await waitingFetcher(ctx);
  const sender = await ctx.bed.open({ listen: false });
  await Promise.all([sender.enqueueOrchestratorMessage(startMessage('a')), sender.enqueueOrchestratorMessage(startMessage('b'))]);
  assert.equal((await waiting).map((i) => i.instanceId).sort(), ['a', 'b']);
  assert.equal(counter.byStatement(), { fetch_orch: 2 });
});

test('the named instance held by another: nothing is taken, the long-poll waits on, and the release hands the event out', async (ctx) => {
  const holder = await ctx.bed.open({ listen: false });
  await holder.enqueueOrchestratorMessage(startMessage('a'));
  const [held] = await holder.fetchOrchestrationItems({ lockMs: 60_000 });
  const { counter, waiting } = await waitingFetcher(ctx);
  await holder.enqueueOrchestratorMessage(eventMessage('a', 'LATE'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(counter.byStatement(), { fetch_orch: 1, fetch_orch_one: 1 }, 'the named fetch found the lock live');
  await holder.ackOrchestrationItem(held!.lockToken, sampleDelta({ history: historyEvents(1, 0, 1) }));
  assert.equal((await waiting).map((i) => i.messages.map((m) => m.kind)), [['event']]);
});

test('a suspended instance\'s event is not handed out by the named fetch, and its claim is released', async (ctx) => {
  const setup = await ctx.bed.open({ listen: false });
  await setup.enqueueOrchestratorMessage(startMessage('a'));
  const [first] = await setup.fetchOrchestrationItems({ lockMs: 60_000 });
  await setup.ackOrchestrationItem(first!.lockToken, sampleDelta({ history: historyEvents(1, 0, 1), instance: { status: 'suspended' } }));
  const { counter, waiting } = await waitingFetcher(ctx);
  await setup.enqueueOrchestratorMessage(eventMessage('a', 'IGNORED'));
  await new Promise((r) => setTimeout(r, 100));
  assert.is(counter.byStatement().fetch_orch_one, 1);
  const locks = await sql(ctx.bed.url, `SELECT instance_id FROM "${ctx.bed.schema}".instance_locks`);
  assert.equal(locks, [], 'no lock left behind');
  const marked = await sql(ctx.bed.url, `SELECT count(*)::int AS n FROM "${ctx.bed.schema}".orchestrator_queue WHERE lock_token IS NOT NULL`);
  assert.equal(marked, [{ n: 0 }], 'the event is not marked as handed out');
  // A resume is fetchable while suspended, and alone: it comes through the named fetch.
  await setup.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'resume', payload: {} });
  assert.equal((await waiting).map((i) => i.messages.map((m) => m.kind)), [['resume']]);
  assert.is(counter.byStatement().fetch_orch_one, 2);
});

test.run();
