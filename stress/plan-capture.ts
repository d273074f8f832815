/**
 * Executed plans of every statement a connection runs, stored functions' nested statements
 * included, as auto_explain logs them (rows and buffers, no per-node timing), delivered to this
 * client as notices. Used by the plan checks (explain-plans.ts, explain-batches.ts).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../providers/postgres/index.js';

/** Turn plan logging on for `client`; `onPlan` gets each plan text as the server reports it. */
export async function capturePlans(client: pg.Client, onPlan: (plan: string) => void): Promise<void> {
  client.on('notice', (msg) => {
    const text = msg.message ?? '';
    if (text.includes('plan:')) onPlan(text);
  });
  await client.query("LOAD 'auto_explain'");
  await client.query('SET auto_explain.log_min_duration = 0');
  await client.query('SET auto_explain.log_nested_statements = on');
  // Executed plans with their buffers; per-node timing is not needed and would slow the calls.
  await client.query('SET auto_explain.log_analyze = on');
  await client.query('SET auto_explain.log_buffers = on');
  await client.query('SET auto_explain.log_timing = off');
  await client.query('SET client_min_messages = log');
}

/** Stop sending plans to the client (before it is reused or closed). */
async function stopCapture(client: pg.Client): Promise<void> {
  await client.query('SET client_min_messages = warning').catch(() => {});
}

/**
 * The most rows one node of an executed plan read: its rows plus those its filters removed (both
 * printed per loop), times its loops.
 */
export function largestNodeRead(plan: string): number {
  let largest = 0;
  // Each node starts on the line with its costs; its Filter lines follow until the next node's.
  const nodes = plan.split(/\n(?=[^\n]*\(cost=)/);
  for (const node of nodes) {
    const m = /actual rows=(\d+) loops=(\d+)/.exec(node);
    if (!m) continue;
    const removed = [...node.matchAll(/Rows Removed by (?:Join )?Filter: (\d+)/g)].reduce((sum, r) => sum + Number(r[1]), 0);
    largest = Math.max(largest, (Number(m[1]) + removed) * Number(m[2]));
  }
  return largest;
}

/** The first line of the statement a logged plan is for. */
export function statementOf(plan: string): string {
  return (/Query Text: ([^\n]*)/.exec(plan)?.[1] ?? '').trim();
}


/**
 * Run `body` on one connection to a fresh, migrated schema (`s`: its quoted name), then stop any
 * capture, drop the schema and close the connection, whatever happened.
 */
export async function withPlanSchema(connectionString: string, body: (client: pg.Client, s: string) => Promise<void>): Promise<void> {
  const schema = `explain_${randomBytes(6).toString('hex')}`;
  const s = `"${schema}"`;
  await migrate({ connectionString, schema });
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await body(client, s);
  } finally {
    await stopCapture(client);
    await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => {});
    await client.end();
  }
}
