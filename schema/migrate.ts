/**
 * The migration runner: applies `schema/migrations/NNN_*.sql` in order, one transaction each, and
 * records each in `<schema>.schema_migrations` with its sha256. Runners in several processes are
 * serialised by an advisory lock keyed on the schema; re-running is a no-op; an applied file whose
 * content changed is a SchemaError (released migrations are replaced by new ones, never edited).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DatabaseAccessError, RetryableProviderError, SchemaError } from '../providers/errors.js';
import { toProviderError } from '../providers/postgres/errors.js';
import { quoteSchema, validateSchemaName } from './schema-name.js';

export interface Migration {
  /** File name, e.g. `001_init.sql`; the order is the name's order. */
  name: string;
  sql: string;
  /** sha256 of the file, hex. */
  checksum: string;
}

export interface MigrateOptions {
  pool?: pg.Pool;
  connectionString?: string;
  schema: string;
  /** Apply only the migrations named before this one (e.g. `006_x.sql`): a schema as an older version left it. */
  before?: string;
}

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const MIGRATION_FILE = /^\d{3}_[a-z0-9_]+\.sql$/;

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => MIGRATION_FILE.test(n)).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * What a failure while installing or checking the schema means to the caller: transient trouble
 * (the server starting up or shutting down, a refused or lost connection) stays retryable, and
 * refused access is a DatabaseAccessError; anything else is a SchemaError.
 */
function schemaFailure(err: unknown, message: string, details: Record<string, unknown>): Error {
  const mapped = toProviderError(err);
  if (mapped instanceof SchemaError || mapped instanceof RetryableProviderError || mapped instanceof DatabaseAccessError) return mapped;
  return new SchemaError(`${message}: ${mapped.message}`, details, { cause: err });
}

/** Borrow the caller's pool, or make a small one that is closed afterwards. Failures come out typed (schemaFailure). */
async function withClient<T>(opts: MigrateOptions, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  if (!opts.pool && !opts.connectionString) throw new SchemaError('migrate needs a pool or a connectionString');
  const pool = opts.pool ?? new pg.Pool({ connectionString: opts.connectionString, max: 1 });
  try {
    const client = await pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  } catch (err) {
    throw schemaFailure(err, `installing or checking schema '${opts.schema}' failed`, { schema: opts.schema });
  } finally {
    if (!opts.pool) await pool.end();
  }
}

interface AppliedRow { name: string; checksum: string }

/** Compare what the database recorded with the files; returns the files still to apply. */
function pending(applied: AppliedRow[], migrations: Migration[], schema: string): Migration[] {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  for (const row of applied) {
    const file = byName.get(row.name);
    if (!file) {
      throw new SchemaError(`schema '${schema}' has migration ${row.name}, unknown to this version of durastate (the database is newer)`, {
        schema, migration: row.name,
      });
    }
    if (file.checksum !== row.checksum) {
      throw new SchemaError(`migration ${row.name} was changed after it was applied to schema '${schema}'`, {
        schema, migration: row.name, applied: row.checksum, file: file.checksum,
      });
    }
  }
  const done = new Set(applied.map((r) => r.name));
  return migrations.filter((m) => !done.has(m.name));
}

export async function migrate(opts: MigrateOptions): Promise<{ applied: string[] }> {
  const schema = validateSchemaName(opts.schema); // before any connection or SQL
  const quoted = quoteSchema(schema);
  const migrations = await loadMigrations();
  return withClient(opts, async (client) => {
    // Session-level lock on a key derived from the schema: a second runner waits here, then finds nothing to do.
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`durastate.migrate:${schema}`]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
           name text PRIMARY KEY, checksum text NOT NULL, applied_at bigint NOT NULL)`,
      );
      const { rows } = await client.query<AppliedRow>(`SELECT name, checksum FROM ${quoted}.schema_migrations ORDER BY name`);
      const todo = pending(rows, migrations, schema).filter((m) => opts.before === undefined || m.name < opts.before);
      for (const migration of todo) {
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL search_path TO ${quoted}`);
          await client.query(migration.sql);
          await client.query(
            `INSERT INTO ${quoted}.schema_migrations (name, checksum, applied_at)
             VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)`,
            [migration.name, migration.checksum],
          );
          await client.query('COMMIT');
        } catch (err) {
          // On a lost connection there is nothing left to roll back, and the migration's own error is the one to report.
          await client.query('ROLLBACK').catch(() => {});
          throw schemaFailure(err, `migration ${migration.name} failed on schema '${schema}'`, { schema, migration: migration.name });
        }
      }
      return { applied: todo.map((m) => m.name) };
    } finally {
      // A session lock dies with its connection: if the unlock fails, the connection is gone and so is
      // the lock, and the error that ended the run is the one to report.
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`durastate.migrate:${schema}`]).catch(() => {});
    }
  });
}

/** For providers opened with `migrate: false`: SchemaError unless every migration is applied, unchanged. */
export async function checkSchema(opts: MigrateOptions): Promise<void> {
  const schema = validateSchemaName(opts.schema);
  const migrations = await loadMigrations();
  await withClient(opts, async (client) => {
    const exists = await client.query('SELECT to_regclass($1) AS t', [`${quoteSchema(schema)}.schema_migrations`]);
    if (exists.rows[0]?.t === null) throw new SchemaError(`schema '${schema}' is not installed; run the migrations`, { schema });
    const { rows } = await client.query<AppliedRow>(`SELECT name, checksum FROM ${quoteSchema(schema)}.schema_migrations ORDER BY name`);
    const todo = pending(rows, migrations, schema);
    if (todo.length > 0) {
      throw new SchemaError(`schema '${schema}' is out of date; missing ${todo.map((m) => m.name).join(', ')}`, {
        schema, missing: todo.map((m) => m.name),
      });
    }
  });
}
