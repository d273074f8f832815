/**
 * The database side of a command: resolve the database from the common options (--database-url,
 * else DATABASE_URL, else the embedded default), open the provider and a client on it.
 */
import { openDatabase, type OpenDatabase } from '../database.js';
import { createClient, type Client } from '../index.js';
import type { CommandArgs } from './command.js';

export interface Session {
  db: OpenDatabase;
  client: Client;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** One-shot commands need no LISTEN connection; the worker does. */
  listen: boolean;
  poolSize: number;
}

export async function openSession(args: CommandArgs, opts: SessionOptions): Promise<Session> {
  const db = await openDatabase({
    databaseUrl: args.string('database-url'),
    dataDir: args.string('data-dir'),
    schema: args.string('schema'),
    listen: opts.listen,
    poolSize: opts.poolSize,
  });
  return { db, client: createClient({ provider: db.provider }), close: () => db.close() };
}

/** Open a session, run `fn`, close the session whatever happens. */
export async function withSession<T>(args: CommandArgs, fn: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession(args, { listen: false, poolSize: 2 });
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
