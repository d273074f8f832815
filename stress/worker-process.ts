/**
 * One dispatcher process of a stress run (or of a benchmark): a full runtime with every workload definition, on a
 * small pool tagged with the run's application_name (so chaos can terminate its connections). It
 * reports 'ready' over IPC, shuts down gracefully on SIGTERM, and exits when the driver goes away,
 * so no process outlives its run.
 */
import pg from 'pg';
import pino from 'pino';
import { createRuntime } from '../runtime/index.js';
import { openPostgresProvider } from '../providers/postgres/index.js';
import { runRecorder } from './run-log.js';
import { withApplicationName } from './server.js';
import { STRESS_ORCHESTRATIONS } from './workloads/orchestrations.js';
import { defineWorkActivity } from './workloads/work-activity.js';

export interface WorkerConfig {
  url: string;
  schema: string;
  /** Tags the runtime's connections; the run log's own connection is tagged differently and never terminated. */
  applicationName: string;
  poolSize: number;
  concurrency: number;
  /** The provider's groupSize; its default when absent (stress runs). */
  groupSize?: number;
  lockMs: number;
  maxSleepMs: number;
  /** Stress runs: record every attempt in stress_runs and fail some first attempts on purpose. Benchmarks: neither. */
  evidence: boolean;
}

const config = JSON.parse(process.env.STRESS_WORKER_CONFIG ?? 'null') as WorkerConfig | null;
if (!config) throw new Error('worker-process.ts is started by stress/run.ts (STRESS_WORKER_CONFIG is missing)');

const logger = pino({ level: process.env.STRESS_LOG_LEVEL ?? 'warn' }).child({ pid: process.pid });
const pool = new pg.Pool({ connectionString: withApplicationName(config.url, config.applicationName), max: config.poolSize });
pool.on('error', (err) => logger.warn({ err }, 'idle runtime connection failed'));
// The run log's own connection, for stress runs only (benchmarks record no evidence).
const logPool = config.evidence ? new pg.Pool({ connectionString: withApplicationName(config.url, `${config.applicationName}-log`), max: 1 }) : undefined;
logPool?.on('error', (err) => logger.warn({ err }, 'idle run-log connection failed'));

const provider = await openPostgresProvider({ pool, schema: config.schema, migrate: false, logger, groupSize: config.groupSize });
const runtime = createRuntime({
  provider,
  orchestrations: STRESS_ORCHESTRATIONS,
  activities: [defineWorkActivity(logPool ? { record: runRecorder(logPool, config.schema), flaky: true, maxSleepMs: config.maxSleepMs } : {})],
  concurrency: { orchestrations: config.concurrency, activities: config.concurrency },
  lockMs: config.lockMs,
  // Short polls: after a server restart or a dropped LISTEN, work is found again quickly.
  pollWaitMs: 1000,
  logger,
});
await runtime.start();
process.send?.({ type: 'ready', pid: process.pid });

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await runtime.shutdown({ graceMs: 2000 }).catch((err: unknown) => logger.error({ err }, 'shutdown failed'));
  await provider.close().catch(() => {});
  await pool.end().catch(() => {});
  await logPool?.end().catch(() => {});
  process.exit(code);
}
process.on('SIGTERM', () => void stop(0));
// The driver died or closed the channel: never linger as an orphan.
process.on('disconnect', () => void stop(0));
