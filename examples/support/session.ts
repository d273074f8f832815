/**
 * What every example runs on: a database (a URL given by a test, else DATABASE_URL, else the
 * embedded PostgreSQL in .durastate/pgdata), a runtime with the example's definitions, and a client.
 */
// Users write `from 'durastate'` for the package entry.
import {
  createClient, createDefaultLogger, createRuntime, openDatabase, type ActivityDefinition, type Client, type OrchestrationDefinition,
} from '../../runtime/index.js';

export interface Definitions {
  orchestrations: OrchestrationDefinition[];
  activities: ActivityDefinition[];
}

export interface ExampleSession {
  client: Client;
  /** Where the database came from (for the printout). */
  source: string;
  /** Shut the runtime down, close the provider, stop the embedded server if this process started it. */
  close(): Promise<void>;
}

export interface SessionOptions {
  databaseUrl?: string;
  schema?: string;
  /** pino level of the runtime's logs. Default: $DURASTATE_LOG_LEVEL, else 'silent' (examples print their own story from history; expected activity failures would read like errors). */
  logLevel?: string;
  poolSize?: number;
}

export async function openExampleSession(defs: Definitions, opts: SessionOptions = {}): Promise<ExampleSession> {
  const db = await openDatabase({ databaseUrl: opts.databaseUrl, schema: opts.schema, poolSize: opts.poolSize ?? 4 });
  const logger = createDefaultLogger().child({}, { level: opts.logLevel ?? process.env.DURASTATE_LOG_LEVEL ?? 'silent' });
  const runtime = createRuntime({ provider: db.provider, ...defs, logger, concurrency: { orchestrations: 4, activities: 4 } });
  try {
    await runtime.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  return {
    client: createClient({ provider: db.provider, orchestrations: defs.orchestrations }),
    source: db.source,
    async close() {
      await runtime.shutdown({ graceMs: 2_000 });
      await db.close();
    },
  };
}
