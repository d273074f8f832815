/**
 * A lone enqueue commits without waiting for the WAL flush, so its fetcher wakes at once, and then
 * waits for the flush before it answers (013_wake_before_flush.sql). These tests hold it to the
 * second half: an answer means a durable message, and the pooled connection keeps flushing commits.
 */
import pg from 'pg';
import * as assert from 'uvu/assert';
import { InstanceExistsError } from '../errors.js';
import { sql } from '../../test/db.js';
import { eventMessage, expectError, startMessage } from '../../validation/conformance/helpers.js';
import { providerSuite } from './test-support.js';

const test = providerSuite('postgres lone enqueue: wakes before the flush, answers after it', 'flush');

/** The schema pg_walinspect lives in: created in the test's own schema (dropped with it) unless the database already has it. */
async function walInspect(url: string, schema: string): Promise<string> {
  await sql(url, `CREATE EXTENSION IF NOT EXISTS pg_walinspect WITH SCHEMA "${schema}"`);
  const [row] = await sql<{ nspname: string }>(url, `
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_walinspect'`);
  return row!.nspname;
}

test('an enqueue answers only once the commit that queued its message is flushed', async ({ p, bed }) => {
  const inspect = await walInspect(bed.url, bed.schema);
  for (const msg of [startMessage('a', null), eventMessage('a', 'GO')]) {
    const [{ lsn: before }] = (await sql<{ lsn: string }>(bed.url, 'SELECT pg_current_wal_insert_lsn()::text AS lsn')) as [{ lsn: string }];
    const { id } = await p.enqueueOrchestratorMessage(msg);
    const [{ lsn: flushed }] = (await sql<{ lsn: string }>(bed.url, 'SELECT pg_current_wal_flush_lsn()::text AS lsn')) as [{ lsn: string }];
    const [{ xid }] = (await sql<{ xid: string }>(bed.url, `SELECT xmin::text AS xid FROM "${bed.schema}".orchestrator_queue WHERE id = $1::bigint`, [id])) as [{ xid: string }];
    // The commit record of the transaction that inserted the row, among the records flushed when the enqueue answered.
    const commits = await sql<{ n: number }>(bed.url, `
      SELECT count(*)::int AS n FROM "${inspect}".pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
      WHERE xid = $3::xid AND resource_manager = 'Transaction' AND record_type = 'COMMIT'`, [before, flushed, xid]);
    assert.is(commits[0]!.n, 1, `${msg.kind}: the commit of xid ${xid} lies between ${before} and the flush position ${flushed}`);
  }
});

test('the enqueue\'s unflushed commit is its own: the pooled connection it ran on commits with the flush again', async ({ bed }) => {
  const pool = new pg.Pool({ connectionString: bed.url, max: 1 });
  const p = await bed.open({ pool });
  try {
    await p.enqueueOrchestratorMessage(startMessage('b'));
    // The pool's one connection is the one that just ran the enqueue.
    const { rows } = await pool.query<{ s: string }>(`SELECT current_setting('synchronous_commit') AS s`);
    assert.is(rows[0]!.s, 'on');
  } finally {
    await p.close();
    await pool.end();
  }
});

test('a refused enqueue commits nothing: a second start is InstanceExistsError and the first stays the only one queued', async ({ p, bed }) => {
  await p.enqueueOrchestratorMessage(startMessage('c', 1));
  await expectError(p.enqueueOrchestratorMessage(startMessage('c', 2)), InstanceExistsError, 'a second start');
  const rows = await sql<{ input: unknown }>(bed.url, `SELECT payload->'input' AS input FROM "${bed.schema}".orchestrator_queue WHERE instance_id = 'c'`);
  assert.equal(rows, [{ input: 1 }]);
});

test.run();
