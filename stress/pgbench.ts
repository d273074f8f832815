/**
 * The yardstick for every throughput figure: `pgbench -N` (simple-update, no branch contention)
 * write TPS measured on the same server in the same run. The box is shared and noisy, so
 * durastate's numbers are reported as ratios to this, never as absolutes alone.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const BENCH_DB = 'durastate_pgbench';

export interface PgbenchResult {
  tps: number;
  clients: number;
  seconds: number;
}

/** Connection parameters pgbench understands, taken from a postgres:// URL. */
function pgbenchEnv(url: URL): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: url.hostname,
    PGPORT: url.port || '5432',
    PGUSER: decodeURIComponent(url.username || 'postgres'),
    PGPASSWORD: decodeURIComponent(url.password),
    PGDATABASE: BENCH_DB,
  };
}

/** Create the scratch database pgbench writes to (its tables live apart from durastate's). */
async function ensureBenchDatabase(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [BENCH_DB]);
    // CREATE DATABASE takes no parameters; the name is a constant of this file, quoted.
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${BENCH_DB}"`);
  } finally {
    await client.end();
  }
}

/** Run `pgbench -N` for `seconds` with `clients` connections and return its TPS. */
export async function measurePgbench(connectionString: string, opts: { clients?: number; seconds?: number } = {}): Promise<PgbenchResult> {
  const clients = opts.clients ?? 8;
  const seconds = opts.seconds ?? 10;
  await ensureBenchDatabase(connectionString);
  const env = pgbenchEnv(new URL(connectionString));
  await run('pgbench', ['-i', '-q', '-s', '1'], { env });
  const { stdout } = await run('pgbench', ['-N', '-n', '-c', String(clients), '-j', '2', '-T', String(seconds)], { env });
  const match = /tps = ([\d.]+)/.exec(stdout);
  if (!match) throw new Error(`could not read TPS from pgbench output:\n${stdout}`);
  return { tps: Number(match[1]), clients, seconds };
}
