/**
 * `durastate worker --module <file>`: run a runtime (orchestration and worker dispatchers) for the
 * module's definitions until SIGTERM or SIGINT, then shut down gracefully: stop fetching, let
 * in-flight work finish within --grace-ms, abandon the rest (another worker picks it up). A second
 * signal exits at once.
 */
import { createDefaultLogger, createRuntime } from '../../index.js';
import type { CliCommand } from '../command.js';
import { loadWorkerModule } from '../load-worker-module.js';
import { openSession } from '../session.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
      for (const s of STOP_SIGNALS) process.once(s, () => process.exit(130));
      resolve(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
  });
}

export const workerCommand: CliCommand = {
  name: 'worker',
  summary: 'Run the orchestrations and activities of a module until SIGTERM/SIGINT. Logs are pino JSON lines on stdout.',
  synopsis: 'worker --module <file> [--concurrency <n>] [--lock-ms <ms>] [--grace-ms <ms>] [options]',
  optionsHelp: `  --module <file>       exports 'orchestrations' and 'activities' arrays (named or on the default export)
  --concurrency <n>     turns and activities processed at once, each (default 10)
  --lock-ms <ms>        lock duration, renewed while work runs (default 30000)
  --grace-ms <ms>       on shutdown, how long in-flight work may finish (default 10000)`,
  options: { module: { type: 'string' }, concurrency: { type: 'string' }, 'lock-ms': { type: 'string' }, 'grace-ms': { type: 'string' } },
  async run(args, out) {
    const { file, orchestrations, activities } = await loadWorkerModule(args.requiredString('module'));
    const concurrency = args.integer('concurrency', 10);
    const lockMs = args.integer('lock-ms', 30_000);
    const graceMs = args.integer('grace-ms', 10_000);
    const stopped = nextStopSignal(); // listen before the slow start-up, so an early signal is not lost
    const logger = createDefaultLogger();
    const session = await openSession(args, { listen: true, poolSize: Math.max(4, concurrency + 2) });
    try {
      const runtime = createRuntime({
        provider: session.db.provider, orchestrations, activities, lockMs, logger,
        concurrency: { orchestrations: concurrency, activities: concurrency },
      });
      await runtime.start();
      logger.info({
        module: file, database: session.db.source,
        orchestrations: orchestrations.map((o) => `${o.name}@${o.version}`), activities: activities.map((a) => a.name),
      }, 'worker started');
      const signal = await stopped;
      logger.info({ signal, graceMs }, 'worker stopping');
      await runtime.shutdown({ graceMs });
      out.result({ stopped: true, signal }, () => `worker stopped (${signal})`);
    } finally {
      await session.close();
    }
  },
};
