/**
 * The built-in PostgreSQL provider as a validation factory: every call opens a provider on a fresh
 * random schema with a ManualClock and a small pool; `close()` closes it and drops the schema.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ManualClock } from '../../providers/clock.js';
import { InvalidArgumentError } from '../../providers/errors.js';
import { openPostgresProvider } from '../../providers/postgres/index.js';
import type { ProviderFactory } from '../factory.js';

export interface PostgresFactoryOptions {
  connectionString: string;
  /** LISTEN/NOTIFY on (default) or polling only. */
  listen?: boolean;
  /** Schema name prefix; default 'validation'. */
  schemaPrefix?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

async function dropSchema(connectionString: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    // The name matched SCHEMA_NAME, so quoting it is enough to keep it one identifier.
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export function postgresFactory(opts: PostgresFactoryOptions): ProviderFactory {
  return async () => {
    const schema = `${opts.schemaPrefix ?? 'validation'}_${randomBytes(6).toString('hex')}`;
    if (!SCHEMA_NAME.test(schema)) {
      throw new InvalidArgumentError('schema names are lowercase letters, digits and underscores', { schema });
    }
    const clock = new ManualClock();
    const provider = await openPostgresProvider({
      connectionString: opts.connectionString, schema, clock, listen: opts.listen ?? true,
      // Polling is the fallback when not listening: keep it short so long-poll cases stay fast.
      pollIntervalMs: 100, poolSize: 2, migrate: true,
    });
    return {
      provider,
      clock,
      faults: provider.faults,
      async close() {
        try {
          await provider.close();
        } finally {
          await dropSchema(opts.connectionString, schema);
        }
      },
    };
  };
}
