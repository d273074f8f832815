/**
 * Shared by the Postgres provider's tests: open providers on one fresh test schema, and dump every
 * table of it (to prove a failed call changed nothing).
 */
import { suite, type Test } from 'uvu';
import { ManualClock } from '../clock.js';
import { sql, stopTestServer, testSchema, type TestSchema } from '../../test/db.js';
import { migrate, openPostgresProvider, type PostgresProviderOptions } from './index.js';
import type { PostgresProvider } from './provider.js';

export interface PostgresTestBed extends TestSchema {
  /** A provider on the bed's schema (small pool); closed by `close()`. */
  open(opts?: Partial<PostgresProviderOptions>): Promise<PostgresProvider>;
  /** Close every provider opened so far (connections are shared with other test processes). */
  closeProviders(): Promise<void>;
  /** Close every provider opened, drop the schema. */
  close(): Promise<void>;
}

export async function postgresTestBed(prefix = 'pg'): Promise<PostgresTestBed> {
  const bed = await testSchema(prefix);
  await migrate({ connectionString: bed.url, schema: bed.schema });
  const opened: PostgresProvider[] = [];
  const closeProviders = async (): Promise<void> => {
    await Promise.all(opened.splice(0).map((p) => p.close()));
  };
  return {
    ...bed,
    async open(opts = {}) {
      const provider = await openPostgresProvider({ connectionString: bed.url, schema: bed.schema, poolSize: 2, ...opts });
      opened.push(provider);
      return provider;
    },
    closeProviders,
    async close() {
      await closeProviders();
      await bed.drop();
    },
  };
}

/** Poll and safety intervals long enough never to fire during a test: a wake can then only come from a notification. */
export const NEVER = 600_000;

const TABLES = ['instances', 'executions', 'history', 'orchestrator_queue', 'worker_queue', 'instance_locks', 'dead_letters'];

/** Every row of every table, in a stable order: equal dumps mean nothing changed. */
export async function dumpTables(url: string, schema: string): Promise<Record<string, unknown[]>> {
  const dump: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    // Test-generated schema name (hex) and fixed table names, quoted.
    const rows = await sql<{ r: unknown }>(url, `SELECT to_jsonb(t) AS r FROM "${schema}"."${table}" t ORDER BY to_jsonb(t)::text`);
    dump[table] = rows.map((row) => row.r);
  }
  return dump;
}

/** Empty every table (between tests sharing one schema). */
export async function truncateAll(url: string, schema: string): Promise<void> {
  await sql(url, `TRUNCATE ${TABLES.map((t) => `"${schema}"."${t}"`).join(', ')}`);
}

export interface ProviderSuiteContext {
  bed: PostgresTestBed;
  clock: ManualClock;
  p: PostgresProvider;
}

/**
 * A uvu suite on a fresh schema with one provider on an injected clock: every table emptied before
 * each test, the schema dropped after the last one.
 */
export function providerSuite(name: string, prefix: string, options: PostgresProviderOptions = {}): Test<ProviderSuiteContext> {
  const test = suite<ProviderSuiteContext>(name);
  test.before(async (ctx) => {
    ctx.bed = await postgresTestBed(prefix);
    ctx.clock = new ManualClock();
    ctx.p = await ctx.bed.open({ ...options, clock: ctx.clock });
  });
  test.before.each(async (ctx) => {
    await truncateAll(ctx.bed.url, ctx.bed.schema);
  });
  test.after(async (ctx) => {
    await ctx.bed.close();
    await stopTestServer();
  });
  return test;
}
