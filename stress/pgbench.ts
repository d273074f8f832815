/**
 * The yardstick for every throughput figure: `pgbench -N` (simple-update, no branch contention)
 * write TPS measured on the same server in the same run. The box is shared and noisy, so
 * durastate's numbers are reported as ratios to this, never as absolutes alone.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { endedChildrenCpuMs, serverCpuSoFarMs } from './bench/cpu-meter.js';

const run = promisify(execFile);
const BENCH_DB = 'durastate_pgbench';

export interface PgbenchResult {
  tps: number;
  clients: number;
  seconds: number;
  /**
   * CPU per transaction, of the server and of pgbench itself, in microseconds: what a turn's CPU is
   * compared with, a figure that moves less between runs than TPS does on a shared box. Null when
   * the server's processes are not readable from here.
   */
  cpuPerTransaction?: { serverUs: number; pgbenchUs: number } | null;
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

/** The server's CPU so far and that of this process's ended children (pgbench, once it has run). */
async function cpuSoFar(pool: pg.Pool): Promise<{ server: number | null; pgbench: number }> {
  return { server: await serverCpuSoFarMs(pool), pgbench: (await endedChildrenCpuMs(process.pid)) ?? 0 };
}

/** Run `pgbench -N` for `seconds` with `clients` connections and return its TPS. */
export async function measurePgbench(connectionString: string, opts: { clients?: number; seconds?: number } = {}): Promise<PgbenchResult> {
  const clients = opts.clients ?? 8;
  const seconds = opts.seconds ?? 10;
  await ensureBenchDatabase(connectionString);
  const env = pgbenchEnv(new URL(connectionString));
  await run('pgbench', ['-i', '-q', '-s', '1'], { env });
  const pool = new pg.Pool({ connectionString, max: 1 });
  try {
    const before = await cpuSoFar(pool);
    const { stdout } = await run('pgbench', ['-N', '-n', '-c', String(clients), '-j', '2', '-T', String(seconds)], { env });
    const after = await cpuSoFar(pool);
    const tps = /tps = ([\d.]+)/.exec(stdout);
    const transactions = /number of transactions actually processed: (\d+)/.exec(stdout);
    if (!tps || !transactions) throw new Error(`could not read TPS from pgbench output:\n${stdout}`);
    const n = Number(transactions[1]);
    const cpuPerTransaction = before.server === null || after.server === null ? null : {
      serverUs: ((after.server - before.server) * 1000) / n,
      pgbenchUs: ((after.pgbench - before.pgbench) * 1000) / n,
    };
    return { tps: Number(tps[1]), clients, seconds, cpuPerTransaction };
  } finally {
    await pool.end();
  }
}
