/**
 * The harness's own evidence table, `stress_runs`, in the run's schema: one row per activity
 * attempt, written by the activity itself before it does anything else. It is independent of the
 * runtime's tables, so "every activity ran at least once" is checked against a second witness.
 */
import type pg from 'pg';
import type { WorkRun } from './workloads/work-activity.js';

const table = (schema: string): string => `"${schema}".stress_runs`;

export async function createRunLog(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table(schema)} (
    key text NOT NULL, instance_id text NOT NULL, execution_id int NOT NULL, activity_id text NOT NULL,
    attempt int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
}

export function runRecorder(pool: pg.Pool, schema: string): (run: WorkRun) => Promise<void> {
  const text = `INSERT INTO ${table(schema)} (key, instance_id, execution_id, activity_id, attempt, pid) VALUES ($1, $2, $3, $4, $5, $6)`;
  return async (run) => {
    await pool.query(text, [run.key, run.instanceId, run.executionId, run.activityId, run.attempt, process.pid]);
  };
}

export async function readRunLog(pool: pg.Pool, schema: string): Promise<WorkRun[]> {
  const { rows } = await pool.query<{ key: string; instance_id: string; execution_id: number; activity_id: string; attempt: number }>(
    `SELECT key, instance_id, execution_id, activity_id, attempt FROM ${table(schema)}`,
  );
  return rows.map((r) => ({ key: r.key, instanceId: r.instance_id, executionId: r.execution_id, activityId: r.activity_id, attempt: r.attempt }));
}
