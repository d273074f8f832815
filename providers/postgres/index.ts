/**
 * Opening the PostgreSQL provider: validate options, make (or borrow) the pool, install or check
 * the schema, learn the database clock and start the LISTEN notifier.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { requireInteger } from '../arguments.js';
import { InvalidArgumentError } from '../errors.js';
import { checkSchema, migrate } from '../../schema/migrate.js';
import { validateSchemaName } from '../../schema/schema-name.js';
import { toProviderError } from './errors.js';
import { DEFAULT_GROUP_SIZE, PostgresProvider } from './provider.js';

export { migrate } from '../../schema/migrate.js';
export { PostgresProvider } from './provider.js';

export interface PostgresProviderOptions {
  connectionString?: string;
  pool?: pg.Pool; // one of them
  /** Default 'durastate'; must match ^[a-z_][a-z0-9_]{0,47}$. */
  schema?: string;
  /** Injected clock; default: the database's. */
  clock?: Clock;
  /** Default true; false = polling only (a pooler without LISTEN). */
  listen?: boolean;
  /** Default 1000, used when not listening. */
  pollIntervalMs?: number;
  /** While listening, how often a safety query catches missed notifications. Default 10000. */
  safetyIntervalMs?: number;
  /** Default 10 (ignored with `pool`). */
  poolSize?: number;
  /**
   * Most entries one group-commit statement carries (acks, enqueues; `DEFAULT_GROUP_SIZE`, 50). A
   * dispatcher's turns reach their acks in bursts as large as its fetches, up to its concurrency:
   * about half of that commits them in two statements. Throughput benchmark, 12-04, four interleaved
   * runs each: concurrency 300 with 150 carried 13% more turns/s than concurrency 100 with 50, at 12%
   * less server CPU per turn, and 8% more than concurrency 200 with 100; concurrency 100 with 150 did
   * not gain (5% fewer turns/s over three pairs).
   */
  groupSize?: number;
  /** Run migrations when opening; default true. With false, a missing or outdated schema is a SchemaError. */
  migrate?: boolean;
  logger?: Logger;
}

/** The notifier needs its own connection: derive its connection string from the pool's options. */
function connectionStringOf(pool: pg.Pool): string {
  const o = (pool as unknown as { options: pg.PoolConfig }).options;
  if (o.connectionString) return o.connectionString;
  const user = encodeURIComponent(o.user ?? process.env.PGUSER ?? 'postgres');
  const password = typeof o.password === 'string' ? `:${encodeURIComponent(o.password)}` : '';
  const host = o.host ?? process.env.PGHOST ?? 'localhost';
  const port = o.port ?? Number(process.env.PGPORT ?? 5432);
  const database = encodeURIComponent(o.database ?? process.env.PGDATABASE ?? o.user ?? 'postgres');
  return `postgres://${user}${password}@${host}:${port}/${database}`;
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new InvalidArgumentError(`${what} must be a positive number`, { [what]: value });
  return value;
}

export async function openPostgresProvider(opts: PostgresProviderOptions): Promise<PostgresProvider> {
  const schema = validateSchemaName(opts.schema ?? 'durastate');
  if (!opts.pool && !opts.connectionString) throw new InvalidArgumentError('openPostgresProvider needs a connectionString or a pool');
  const pollIntervalMs = positive(opts.pollIntervalMs, 1000, 'pollIntervalMs');
  const safetyIntervalMs = positive(opts.safetyIntervalMs, 10_000, 'safetyIntervalMs');
  const poolSize = positive(opts.poolSize, 10, 'poolSize');
  const groupSize = requireInteger(opts.groupSize ?? DEFAULT_GROUP_SIZE, 1, 'groupSize');
  const pool = opts.pool ?? new pg.Pool({ connectionString: opts.connectionString, max: poolSize });
  const ownsPool = !opts.pool;
  // An idle pooled connection dropped by the server emits 'error' on the pool; unhandled, it would crash the process.
  if (ownsPool) pool.on('error', (err) => opts.logger?.warn({ err }, 'idle PostgreSQL connection failed'));
  try {
    if (opts.migrate === false) await checkSchema({ pool, schema });
    else await migrate({ pool, schema });
    const provider = new PostgresProvider({
      pool, ownsPool, schema,
      connectionString: opts.connectionString ?? connectionStringOf(pool),
      listen: opts.listen !== false,
      pollIntervalMs, safetyIntervalMs, groupSize,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    try {
      await provider.start();
    } catch (err) {
      await provider.notifier.close();
      throw err;
    }
    return provider;
  } catch (err) {
    if (ownsPool) await pool.end().catch(() => {});
    // Start-up meets the same failures as any call (the server shutting down, a refused connection):
    // callers get the same typed errors, e.g. RetryableProviderError to retry the open.
    throw toProviderError(err);
  }
}
