/**
 * A message committed while a turn's ack is releasing its instance, after the ack looked for
 * messages to wake fetchers for: its notification wakes a fetch that still finds the instance locked,
 * the ack's look missed it, and without more the queue counted as drained and nothing fetched it
 * until a long-poll's deadline. The provider that sent the ack wakes its queue once more when a
 * notification came while the ack was out (provider.ts, releasingInstances).
 *
 * The ack is held at its commit, after its look, by a deferred trigger on instance_locks (this test
 * schema's only) that waits for an advisory lock the test holds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { sql, stopTestServer } from '../../test/db.js';
import { eventMessage, historyEvents, sampleDelta, startMessage } from '../../validation/conformance/helpers.js';
import { countingPool } from '../../stress/bench/counting-pool.js';
import type { PostgresProviderOptions } from './index.js';
import type { PostgresProvider } from './provider.js';
import { NEVER, postgresTestBed, truncateAll, type PostgresTestBed } from './test-support.js';

const test = suite<{ bed: PostgresTestBed; gate: pg.Client }>('postgres lock release racing a new message');

/** The advisory lock key of the gate; the trigger's function spells it too. */
const GATE = 7_400_315;

test.before(async (ctx) => {
  ctx.bed = await postgresTestBed('recheck');
  const s = ctx.bed.schema; // a generated hex name, quoted
  await sql(ctx.bed.url, `CREATE FUNCTION "${s}".gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(${GATE}); RETURN NULL; END $$`);
  await sql(ctx.bed.url, `CREATE CONSTRAINT TRIGGER gate AFTER DELETE ON "${s}".instance_locks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${s}".gate()`);
});
test.before.each(async (ctx) => {
  await truncateAll(ctx.bed.url, ctx.bed.schema);
  ctx.gate = new pg.Client({ connectionString: ctx.bed.url });
  await ctx.gate.connect();
});
test.after.each(async (ctx) => {
  await ctx.bed.closeProviders();
  await ctx.gate.end();
});
test.after(async (ctx) => {
  await ctx.bed.close();
  await stopTestServer();
});

/** Resolves once `check` holds, looking every 5 ms; rejects after 10 s with `what`. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A listening provider (wakes come from notifications alone) holding instance 'a', fetched. */
async function holding(bed: PostgresTestBed, opts: Partial<PostgresProviderOptions> = {}): Promise<{ holder: PostgresProvider; lockToken: string }> {
  const holder = await bed.open({ pollIntervalMs: NEVER, safetyIntervalMs: NEVER, ...opts });
  await holder.enqueueOrchestratorMessage(startMessage('a'));
  // Asking for more than there is leaves the queue counted as drained.
  const [item] = await holder.fetchOrchestrationItems({ lockMs: 60_000, max: 10 });
  assert.ok(item, 'the start is fetched');
  return { holder, lockToken: item.lockToken };
}

test('an event committed while the ack releases its instance is fetched at once after the ack, not at the long-poll deadline', async (ctx) => {
  const { holder, lockToken } = await holding(ctx.bed);
  const sender = await ctx.bed.open({ listen: false });
  await ctx.gate.query('SELECT pg_advisory_lock($1)', [GATE]);
  const acked = holder.ackOrchestrationItem(lockToken, sampleDelta({ history: historyEvents(1, 0, 1) }));
  await until('the ack waits at its commit', async () => {
    const r = await ctx.gate.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", [GATE]);
    return r.rowCount === 1;
  });

  const notified = holder.notifier.notified('orchestrator');
  await sender.enqueueOrchestratorMessage(eventMessage('a', 'LATE'));
  await until('the event is notified', () => holder.notifier.notified('orchestrator') > notified);
  // The fetch that notification calls for, while the release is not committed: the instance is locked.
  assert.equal(await holder.fetchOrchestrationItems({ lockMs: 60_000, max: 10 }), []);

  await ctx.gate.query('SELECT pg_advisory_unlock($1)', [GATE]);
  await acked;
  const next = holder.fetchOrchestrationItems({ lockMs: 60_000, max: 10, waitMs: 60_000 });
  const found = await Promise.race([next, new Promise<'stalled'>((r) => setTimeout(() => r('stalled'), 5_000).unref())]);
  assert.ok(found !== 'stalled', 'the long-poll skipped its query and waited for a notification that had already come');
  assert.equal(found.map((i) => i.messages.map((m) => m.kind)), [['event']]);
});

test('an ack with no notification while it is out asks for nothing: the next long-poll still skips its first query', async (ctx) => {
  const raw = new pg.Pool({ connectionString: ctx.bed.url, max: 2 });
  try {
    const { pool, counter } = countingPool(raw, ctx.bed.schema);
    const { holder, lockToken } = await holding(ctx.bed, { pool });
    await holder.ackOrchestrationItem(lockToken, sampleDelta({ history: historyEvents(1, 0, 1) }));
    counter.reset();
    assert.equal(await holder.fetchOrchestrationItems({ lockMs: 60_000, max: 10, waitMs: 150 }), []);
    assert.equal(counter.byStatement(), { fetch_orch: 1 }, 'only the query at the deadline');
  } finally {
    await ctx.bed.closeProviders();
    await raw.end();
  }
});

test.run();
