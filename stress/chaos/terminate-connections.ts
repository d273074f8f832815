/**
 * Chaos: pg_terminate_backend on every connection of this run's runtimes, found by the
 * application_name the worker processes tag their pools (and LISTEN connections) with. Other
 * sessions on a shared server, and the run log's own connections, are left alone. Each tick runs
 * under the run's Exclusive, so it never meets a server restart half-way ("the database system is
 * shutting down" was reported as a chaos failure when the two modes were combined).
 */
import pg from 'pg';
import type { Exclusive } from '../exclusive.js';
import { repeatEvery, type Repeating } from './repeat.js';

export function terminateConnectionsEvery(
  adminUrl: string,
  applicationName: string,
  intervalMs: number,
  onEvent: (what: string, count: number) => void,
  onError: (err: unknown) => void,
  exclusive: Exclusive,
): Repeating {
  return repeatEvery(intervalMs, () => exclusive.run(async () => {
    // A fresh connection each time: a server restart between two ticks must not break this one.
    const admin = new pg.Client({ connectionString: adminUrl });
    admin.on('error', () => {});
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [applicationName],
      );
      onEvent(`terminated ${rows[0]?.n ?? 0} runtime connections`, rows[0]?.n ?? 0);
    } finally {
      await admin.end().catch(() => {});
    }
  }), onError);
}
