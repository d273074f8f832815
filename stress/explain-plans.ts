/**
 * Checks that every hot query inside the provider's stored functions uses an index at scale, and
 * an index that bounds its work.
 *
 * Fills a fresh schema with N queued rows in each queue (default 1,000,000; generate_series, so it
 * is fast), in one of two shapes (many instances with a few messages each; or nine tenths of the
 * messages being future timers of 100 instances), then calls each hot function once inside a
 * transaction that is rolled back, with auto_explain logging the executed plan (rows and buffers)
 * of every nested statement to this client. The functions' own SQL is what gets explained: there
 * is no second copy of the queries to drift. Both the custom plans of the first calls and the
 * generic plans that plpgsql settles on later are checked. Exit code 1 if any plan has a Seq Scan
 * on a queue table (or on instances, which every fetch consults), or a plan node that read a
 * twentieth of the rows or more (rows returned plus rows filtered out, over all its loops): a hot
 * statement handles a few hundred rows, so more means it walked an index (the timers shape once
 * made every ack walk the whole fetch index: 1,000,000 entries, 19,000 pages, 200 ms).
 *
 *   DATABASE_URL=postgres://... node --import tsx stress/explain-plans.ts [rows]
 */
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { capturePlans, largestNodeRead, statementOf, withPlanSchema } from './plan-capture.js';
import { runPlanChecks } from './plan-check-cli.js';

export interface PlanReport {
  /** Function called, plan mode, and each nested statement's plan text. */
  plans: Array<{ call: string; mode: string; plan: string }>;
  /** "call (mode): Seq Scan on table" for every offending plan. */
  seqScans: string[];
  /** "call (mode): a node read N rows: statement" for every statement with a node reading rows/20 or more. */
  largeScans: string[];
}

export type FillShape = 'spread' | 'timers';

/** The queues, and the tables every fetch and ack consults per call. */
const HOT_TABLES = ['orchestrator_queue', 'worker_queue', 'instance_locks', 'instances'];
const BASE = 1_900_000_000_000;

/**
 * Rows: N orchestrator messages, N/8 instance rows, 1000 live locks (of the last instances, so a
 * fetch meets their messages among others), N work items. Spread: the messages over N/4
 * instances, 10% not yet visible. Timers: 10% visible, over N/4000 instances (400 each), 90%
 * future timers of 100 more instances: what a timer-heavy workload queues. The statistics then
 * promise thousands of messages per instance id, and generic plans are made for that.
 */
async function fill(client: pg.Client, s: string, rows: number, shape: FillShape): Promise<void> {
  if (shape === 'spread') {
    await client.query(`
      INSERT INTO ${s}.orchestrator_queue (instance_id, kind, payload, enqueued_at, visible_at)
      SELECT 'i' || (g % ($1::int / 4)), 'event', '{"type":"E"}', $2::bigint + g, $2::bigint + g + CASE WHEN g > $1::int * 0.9 THEN 10000000 ELSE 0 END
      FROM generate_series(1, $1::int) g`, [rows, BASE]);
  } else {
    await client.query(`
      INSERT INTO ${s}.orchestrator_queue (instance_id, kind, payload, enqueued_at, visible_at, timer_id)
      SELECT CASE WHEN g <= $1::int / 10 THEN 'i' || (g % ($1::int / 4000)) ELSE 'holder' || (g % 100) END,
             CASE WHEN g <= $1::int / 10 THEN 'event' ELSE 'timerFired' END, '{"type":"E"}', $2::bigint + g,
             $2::bigint + g + CASE WHEN g <= $1::int / 10 THEN 0 ELSE 10000000 END,
             CASE WHEN g <= $1::int / 10 THEN NULL ELSE 't' || g END
      FROM generate_series(1, $1::int) g`, [rows, BASE]);
  }
  await client.query(`
    INSERT INTO ${s}.instances (instance_id, name, version, execution_id, status, state_value, context, input,
                                definition_hash, history_length, turns, created_at, updated_at)
    SELECT 'i' || g, 'n', '1', 1, CASE WHEN g % 10 = 0 THEN 'suspended' ELSE 'running' END, '"s"', '{}', 'null', 'h', 0, 1, $2::bigint, $2::bigint
    FROM generate_series(0, $1::int / 8) g`, [rows, BASE]);
  await client.query(`
    INSERT INTO ${s}.instance_locks (instance_id, lock_token, locked_until, locked_at)
    SELECT 'i' || ($2::int / 4 - 1 - g), gen_random_uuid(), $1::bigint + 100000000, $1::bigint FROM generate_series(0, 999) g`, [BASE, rows]);
  await client.query(`
    INSERT INTO ${s}.worker_queue (instance_id, execution_id, activity_id, name, payload, enqueued_at, visible_at)
    SELECT 'i' || g, 1, 'a', 'act', '{}', $2::bigint + g, $2::bigint + g FROM generate_series(1, $1::int) g`, [rows, BASE]);
  await client.query(`ANALYZE ${s}.orchestrator_queue, ${s}.instances, ${s}.instance_locks, ${s}.worker_queue`);
}

/** What a turn commits: the instance, a history entry, a message, a timer, a work item (activity id `activity`), cancellations. */
export function turnDelta(now: number, activity: string) {
  return {
    instance: { name: 'n', version: '1', executionId: 1, status: 'running', stateValue: 's', context: {}, input: null, output: null, error: null, snapshot: null, definitionHash: 'h', parent: null },
    history: [{ executionId: 1, seq: 0, type: 't', data: {} }], messages: [{ instanceId: 'other', kind: 'event', payload: {} }],
    timers: [{ timerId: `t-${activity}`, fireAt: now + 1000, executionId: 1, payload: {} }], workItems: [{ instanceId: 'x', executionId: 1, activityId: activity, name: 'act', payload: {} }],
    cancelTimers: ['t0'], cancelActivities: ['a0'], keepMessageIds: [], deadLetterMessageIds: [],
  };
}

/** The hot calls, in order, each inside the same rolled-back transaction (later ones use earlier results). */
function hotCalls(s: string, now: number): Array<{ call: string; run: (c: pg.Client, state: Record<string, string>) => Promise<void> }> {
  const one = async (c: pg.Client, text: string, values: unknown[]) => (await c.query(text, values)).rows[0]?.r;
  return [
    { call: 'enqueue_orchestrator_message', run: async (c) => void (await one(c, `SELECT ${s}.enqueue_orchestrator_message($1, $2::jsonb, NULL) AS r`, [now, JSON.stringify({ instanceId: 'new', kind: 'event', payload: {} })])) },
    { call: 'enqueue_orchestrator_messages', run: async (c) => void (await one(c, `SELECT ${s}.enqueue_orchestrator_messages($1::jsonb) AS r`, [JSON.stringify([
      { now, msg: { instanceId: 'new2', kind: 'event', payload: {} }, visibleAt: null },
      { now, msg: { instanceId: 'new3', kind: 'start', payload: {} }, visibleAt: null },
    ])])) },
    { call: 'fetch_orchestration_items', run: async (c, st) => {
      const items = await one(c, `SELECT ${s}.fetch_orchestration_items($1, 60000, 4, 'explain') AS r`, [now]);
      st.orch = items[0].lockToken; st.orch2 = items[1].lockToken; st.orch3 = items[2].lockToken;
    } },
    { call: 'renew_orchestration_lock', run: async (c, st) => void (await one(c, `SELECT ${s}.renew_orchestration_lock($1, $2::uuid, 60000) AS r`, [now, st.orch])) },
    { call: 'ack_orchestration_item', run: async (c, st) => void (await one(c, `SELECT ${s}.ack_orchestration_item($1, $2::uuid, $3::jsonb) AS r`, [now, st.orch, JSON.stringify(turnDelta(now, 'b'))])) },
    // The group commit: the set-based path, with eager locking of the new work item.
    { call: 'ack_orchestration_items', run: async (c, st) => void (await one(c, `SELECT ${s}.ack_orchestration_items($1::jsonb) AS r`, [JSON.stringify([
      { now, token: st.orch3, delta: turnDelta(now, 'c'), lockWork: { lockMs: 60000, max: 5, owner: 'explain' } },
    ])])) },
    { call: 'abandon_orchestration_item', run: async (c, st) => void (await one(c, `SELECT ${s}.abandon_orchestration_item($1, $2::uuid, 0, true) AS r`, [now, st.orch2])) },
    { call: 'fetch_work_items', run: async (c, st) => {
      const items = await one(c, `SELECT ${s}.fetch_work_items($1, 60000, 3, 'explain') AS r`, [now]);
      st.w1 = items[0].lockToken; st.w2 = items[1].lockToken; st.w3 = items[2].lockToken;
    } },
    { call: 'renew_work_item_lock', run: async (c, st) => void (await one(c, `SELECT ${s}.renew_work_item_lock($1, $2::uuid, 60000) AS r`, [now, st.w1])) },
    { call: 'ack_work_item', run: async (c, st) => void (await one(c, `SELECT ${s}.ack_work_item($1, $2::uuid, $3::jsonb, NULL) AS r`, [now, st.w1, JSON.stringify({ instanceId: 'i1', kind: 'activityCompleted', payload: {} })])) },
    { call: 'ack_work_items', run: async (c, st) => void (await one(c, `SELECT ${s}.ack_work_items($1::jsonb) AS r`, [JSON.stringify([
      { now, token: st.w3, result: { instanceId: 'i3', kind: 'activityCompleted', payload: {} }, deadLetterReason: null },
    ])])) },
    { call: 'abandon_work_item', run: async (c, st) => void (await one(c, `SELECT ${s}.abandon_work_item($1, $2::uuid, 10, true) AS r`, [now, st.w2])) },
    { call: 'next_visible_at(orchestrator)', run: async (c) => void (await one(c, `SELECT ${s}.next_visible_at('orchestrator') AS r`, [])) },
    { call: 'next_visible_at(worker)', run: async (c) => void (await one(c, `SELECT ${s}.next_visible_at('worker') AS r`, [])) },
  ];
}

export async function explainHotQueries(opts: { connectionString: string; rows: number; shape: FillShape }): Promise<PlanReport> {
  const report: PlanReport = { plans: [], seqScans: [], largeScans: [] };
  await withPlanSchema(opts.connectionString, async (client, s) => {
    await fill(client, s, opts.rows, opts.shape);
    let current = { call: '', mode: '' };
    await capturePlans(client, (plan) => {
      report.plans.push({ ...current, plan });
      for (const table of HOT_TABLES) {
        if (new RegExp(`Seq Scan on ${table}\\b`).test(plan)) report.seqScans.push(`${current.call} (${current.mode}): Seq Scan on ${table}`);
      }
      const read = largestNodeRead(plan);
      if (read >= opts.rows / 20) report.largeScans.push(`${current.call} (${current.mode}): a node read ${read} rows: ${statementOf(plan)}`);
    });
    // After the fill, "now" is between the visible messages and the delayed ones.
    const now = BASE + Math.floor(opts.rows * (opts.shape === 'spread' ? 0.9 : 1));
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await client.query(`SET plan_cache_mode = ${mode}`);
      await client.query('BEGIN');
      try {
        const state: Record<string, string> = {};
        for (const { call, run } of hotCalls(s, now)) {
          current = { call, mode };
          await run(client, state);
        }
      } finally {
        current = { call: '', mode: '' };
        await client.query('ROLLBACK');
      }
    }
  });
  return report;
}

async function main(): Promise<number> {
  const rows = Number(process.argv[2] ?? 1_000_000);
  return runPlanChecks((['spread', 'timers'] as const).map((shape) => async (url: string) => {
    const report = await explainHotQueries({ connectionString: url, rows, shape });
    return {
      plans: report.plans.map((p) => ({ label: `${p.call} [${p.mode}, ${shape}]`, plan: p.plan })),
      problems: [...report.seqScans, ...report.largeScans],
      ok: `OK (${shape} fill): ${report.plans.length} plans at ${rows} rows, no Seq Scan on a queue table, no node reading ${rows / 20} rows`,
      failed: `${shape} fill, ${rows} rows: Seq Scans on queue tables, or nodes reading ${rows / 20} rows or more`,
    };
  }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
