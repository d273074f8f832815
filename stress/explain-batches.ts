/**
 * Checks that the plans a connection caches while the queues are empty stay linear in the batch.
 *
 * The entry points run with generic plans (migration 002), made at a connection's first call: in
 * a new schema, on empty tables. Several such plans were nested loops over two of a statement's
 * own row sets, harmless for one item and quadratic for a batch (migration 004 took them out). So:
 * in a fresh schema, one connection first makes each call with one or two items (the plans are
 * cached then), and then with a batch of B: an enqueue group of B starts, a fetch of B instances,
 * a group ack of B turns (each scheduling an activity, half of them locking it for the caller), a
 * work fetch and a group ack of the results. Everything runs in one transaction that is rolled
 * back. Any plan node that reads 10 B rows or more (B² for a quadratic join) is reported.
 *
 *   DATABASE_URL=postgres://... node --import tsx stress/explain-batches.ts [batch]
 */
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { turnDelta } from './explain-plans.js';
import { capturePlans, largestNodeRead, statementOf, withPlanSchema } from './plan-capture.js';
import { runPlanChecks } from './plan-check-cli.js';

export interface BatchReport {
  /** Call, and the plan of each statement it ran. */
  plans: Array<{ call: string; plan: string }>;
  /** "call: a node read N rows: statement" for every node reading 10 B rows or more in the batch calls. */
  largeScans: string[];
}

const NOW = 1_900_000_000_000;
const LOCK = { lockMs: 60_000, owner: 'explain' };

type Item = { lockToken: string; instanceId: string };

/** The calls of one round: `prefix` names its instances and activities, `size` how many. */
async function round(client: pg.Client, s: string, prefix: string, size: number, onCall: (call: string) => void): Promise<void> {
  const one = async (call: string, text: string, values: unknown[]) => {
    onCall(call);
    return (await client.query(text, values)).rows[0]?.r;
  };
  const ids = Array.from({ length: size }, (_, k) => `${prefix}${k}`);
  await one('enqueue_orchestrator_messages', `SELECT ${s}.enqueue_orchestrator_messages($1::jsonb) AS r`, [JSON.stringify(
    ids.map((id) => ({ now: NOW, msg: { instanceId: id, kind: 'start', payload: {} }, visibleAt: null })))]);
  const items = (await one('fetch_orchestration_items', `SELECT ${s}.fetch_orchestration_items($1, 60000, $2, 'explain') AS r`, [NOW, size])) as Item[];
  if (items.length !== size) throw new Error(`expected ${size} instances, fetched ${items.length}`);
  const acked = (await one('ack_orchestration_items', `SELECT ${s}.ack_orchestration_items($1::jsonb) AS r`, [JSON.stringify(
    items.map((item, k) => ({ now: NOW, token: item.lockToken, delta: turnDelta(NOW, `${prefix}-a${k}`), ...(k % 2 === 0 ? { lockWork: { ...LOCK, max: 1 } } : {}) })))])) as Array<{ workItems: Item[] }>;
  const eager = acked.flatMap((a) => a.workItems);
  const fetched = (await one('fetch_work_items', `SELECT ${s}.fetch_work_items($1, 60000, $2, 'explain') AS r`, [NOW, size])) as Item[];
  await one('ack_work_items', `SELECT ${s}.ack_work_items($1::jsonb) AS r`, [JSON.stringify(
    [...eager, ...fetched].map((w) => ({ now: NOW, token: w.lockToken, result: { instanceId: w.instanceId, kind: 'activityCompleted', payload: {} }, deadLetterReason: null })))]);
}

export async function explainBatchesOnEmptyPlans(opts: { connectionString: string; batch: number }): Promise<BatchReport> {
  const report: BatchReport = { plans: [], largeScans: [] };
  await withPlanSchema(opts.connectionString, async (client, s) => {
    let current = { call: '', batch: false };
    await capturePlans(client, (plan) => {
      report.plans.push({ call: current.call, plan });
      const read = largestNodeRead(plan);
      if (current.batch && read >= 10 * opts.batch) report.largeScans.push(`${current.call}: a node read ${read} rows: ${statementOf(plan)}`);
    });
    await client.query('BEGIN');
    try {
      await round(client, s, 'warm', 2, (call) => (current = { call, batch: false }));
      await round(client, s, 'batch', opts.batch, (call) => (current = { call, batch: true }));
    } finally {
      current = { call: '', batch: false };
      await client.query('ROLLBACK');
    }
  });
  return report;
}

async function main(): Promise<number> {
  const batch = Number(process.argv[2] ?? 200);
  return runPlanChecks([async (url: string) => {
    const report = await explainBatchesOnEmptyPlans({ connectionString: url, batch });
    return {
      plans: report.plans.map((p) => ({ label: p.call, plan: p.plan })),
      problems: report.largeScans,
      ok: `OK: batch of ${batch}, ${report.plans.length} plans, no node reading ${10 * batch} rows`,
      failed: `batch of ${batch} on plans made on empty tables: nodes reading ${10 * batch} rows or more`,
    };
  }]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
