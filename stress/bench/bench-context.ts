/**
 * What every benchmark shares: its command-line options, the server, the `pgbench -N` yardstick
 * measured in the same run, and a fresh schema with a provider (optionally on a counting pool) and
 * an in-process runtime. Sizes scale with `--scale` so a developer run takes seconds.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { createClient, createRuntime, type ActivityDefinition, type Client, type OrchestrationDefinition, type Provider, type Runtime } from '../../runtime/index.js';
import { openPostgresProvider } from '../../providers/postgres/index.js';
import { startFleet, type Fleet } from '../fleet.js';
import { RESULTS_DIR } from '../results-file.js';
import { measurePgbench, type PgbenchResult } from '../pgbench.js';
import { openServer, type StressServer } from '../server.js';

export interface BenchOptions {
  /** Multiplies every size (1 = the sizes the targets are stated for). */
  scale: number;
  url: string | undefined;
  embedded: boolean;
  pgbenchSeconds: number;
  pgbenchClients: number;
  poolSize: number;
  concurrency: number;
  /** Entries per group-commit statement (the provider's groupSize), here and in `--processes` children. */
  groupSize: number;
  /** Dispatcher processes for the throughput benchmarks; 0: one runtime inside the benchmark's own process. */
  processes: number;
  /** Positional arguments: the benchmarks to run (all when empty). */
  names: string[];
}

export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true, // `npm run bench -- throughput` names the benchmarks to run
    options: {
      scale: { type: 'string', default: '1' },
      url: { type: 'string' },
      embedded: { type: 'boolean', default: false },
      'pgbench-seconds': { type: 'string', default: '10' },
      'pgbench-clients': { type: 'string', default: '8' },
      // Sized for a 2-core box: enough connections for two fetch loops and two group commits per side in flight.
      'pool-size': { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '300' },
      // Default: half the concurrency (the provider's groupSize option says why).
      'group-size': { type: 'string' },
      processes: { type: 'string', default: '0' },
    },
  });
  const num = (s: string, name: string) => {
    const n = Number(s);
    if (!(Number.isFinite(n) && n > 0)) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const count = (s: string, name: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
    return n;
  };
  const concurrency = num(v.concurrency, 'concurrency');
  return {
    scale: num(v.scale, 'scale'),
    url: v.url,
    embedded: v.embedded,
    pgbenchSeconds: num(v['pgbench-seconds'], 'pgbench-seconds'),
    pgbenchClients: num(v['pgbench-clients'], 'pgbench-clients'),
    poolSize: num(v['pool-size'], 'pool-size'),
    concurrency,
    groupSize: v['group-size'] === undefined ? Math.ceil(concurrency / 2) : count(v['group-size'], 'group-size'),
    processes: count(v.processes, 'processes'),
    names: positionals,
  };
}

export interface BenchSchema {
  provider: Provider;
  client: Client;
  /** The pool the provider runs on (a counting one if asked). */
  pool: pg.Pool;
  startRuntime(opts?: { provider?: Provider; concurrency?: number }): Promise<Runtime>;
  /**
   * The dispatchers: `--processes` child processes (stress/worker-process.ts, each a full runtime
   * with every stress workload), or with 0 one runtime in this process.
   */
  startDispatchers(): Promise<void>;
  /** The processes running the dispatchers: this one, or the `--processes` children. */
  dispatcherPids(): number[];
  /** Shut the runtime down, close the provider, drop the schema. */
  close(): Promise<void>;
}

export interface BenchContext {
  options: BenchOptions;
  server: StressServer;
  pgbench: PgbenchResult;
  /** `pgbench -N` again, as at the start (same clients and seconds): a yardstick taken beside a timed phase (bracketing.ts). */
  measurePgbench(): Promise<PgbenchResult>;
  /** `Math.max(min, round(full * scale))`: a size scaled for this run. */
  size(full: number, min: number): number;
  openSchema(opts: {
    orchestrations: readonly OrchestrationDefinition[];
    activities: readonly ActivityDefinition[];
    /** Wraps the pool before the provider sees it (e.g. to count round trips); gets the schema the provider will use. */
    wrapPool?: (pool: pg.Pool, schema: string) => pg.Pool;
  }): Promise<BenchSchema>;
}

const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' });

export async function createBenchContext(options: BenchOptions, pgbench?: PgbenchResult): Promise<BenchContext & { close(): Promise<void> }> {
  const server = await openServer({ url: options.url, embedded: options.embedded });
  const measure = () => measurePgbench(server.url, { clients: options.pgbenchClients, seconds: options.pgbenchSeconds });
  const measured = pgbench ?? (await measure());
  return {
    options,
    server,
    pgbench: measured,
    measurePgbench: measure,
    size: (full, min) => Math.max(min, Math.round(full * options.scale)),
    async openSchema({ orchestrations, activities, wrapPool }) {
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      const raw = new pg.Pool({ connectionString: server.url, max: options.poolSize });
      raw.on('error', () => {});
      const pool = wrapPool ? wrapPool(raw, schema) : raw;
      const provider = await openPostgresProvider({ pool, schema, logger, groupSize: options.groupSize });
      const client = createClient({ provider, orchestrations });
      const runtimes: Runtime[] = [];
      let fleet: Fleet | undefined;
      const startRuntime: BenchSchema['startRuntime'] = async (opts = {}) => {
        const concurrency = opts.concurrency ?? options.concurrency;
        const runtime = createRuntime({
          provider: opts.provider ?? provider, orchestrations, activities, logger,
          concurrency: { orchestrations: concurrency, activities: concurrency },
        });
        await runtime.start();
        runtimes.push(runtime);
        return runtime;
      };
      return {
        provider,
        client,
        pool,
        startRuntime,
        async startDispatchers() {
          if (options.processes === 0) {
            await startRuntime();
            return;
          }
          const logDir = path.join(RESULTS_DIR, 'logs', schema);
          await mkdir(logDir, { recursive: true });
          fleet = await startFleet({
            size: options.processes, logDir,
            config: {
              url: server.url, schema, applicationName: schema, poolSize: options.poolSize, concurrency: options.concurrency, groupSize: options.groupSize,
              lockMs: 30_000, maxSleepMs: 0, evidence: false,
            },
          });
        },
        dispatcherPids: () => (fleet ? fleet.pids() : [process.pid]),
        async close() {
          await fleet?.stop(5000);
          await Promise.all(runtimes.map((r) => r.shutdown({ graceMs: 2000 })));
          await provider.close();
          await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await raw.end();
        },
      };
    },
    close: () => server.stop(),
  };
}
