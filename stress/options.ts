/** Command-line options of `npm run stress`, with the `--quick` preset CI runs. */
import { parseArgs } from 'node:util';

export interface StressOptions {
  quick: boolean;
  processes: number;
  durationS: number;
  instances: number;
  fanoutWidth: number;
  killEveryS: number | null;
  terminateEveryS: number | null;
  /** Restart the server mid-run: after a clean stop, or after a crash (unflushed WAL lost); null: never. */
  restartServer: 'stop' | 'crash' | null;
  embedded: boolean;
  url: string | undefined;
  json: string | undefined;
  /** Deadline for everything to finish once the submission window is over. */
  settleS: number;
  lockMs: number;
  poolSize: number;
  concurrency: number;
  keepSchema: boolean;
}

const USAGE = `usage: npm run stress -- [--quick] [--processes N] [--duration S] [--instances N] [--fanout-width N]
  [--kill-every S] [--terminate-connections-every S] [--restart-server] [--crash-server] [--embedded] [--url URL]
  [--settle S] [--lock-ms MS] [--pool-size N] [--concurrency N] [--keep-schema] [--json out.json]`;

function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`--${name} must be a positive number\n${USAGE}`);
  return n;
}

export function parseStressOptions(argv: string[]): StressOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      processes: { type: 'string' },
      duration: { type: 'string' },
      instances: { type: 'string' },
      'fanout-width': { type: 'string' },
      'kill-every': { type: 'string' },
      'terminate-connections-every': { type: 'string' },
      'restart-server': { type: 'boolean', default: false },
      'crash-server': { type: 'boolean', default: false },
      embedded: { type: 'boolean', default: false },
      url: { type: 'string' },
      json: { type: 'string' },
      settle: { type: 'string' },
      'lock-ms': { type: 'string' },
      'pool-size': { type: 'string' },
      concurrency: { type: 'string' },
      'keep-schema': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  // --quick: CI's chaos smoke run. 2 processes, a few dozen instances, one kill and one connection
  // termination inside a 10 s window; short locks so the killed process's work is taken over quickly.
  const quick = v.quick === true;
  const preset = quick
    ? { processes: 2, durationS: 10, instances: 32, fanoutWidth: 100, killEveryS: 4, terminateEveryS: 7, settleS: 75, lockMs: 3000 }
    : { processes: 4, durationS: 30, instances: 200, fanoutWidth: 100, killEveryS: null, terminateEveryS: null, settleS: 300, lockMs: 5000 };
  return {
    quick,
    processes: number(v.processes, 'processes') ?? preset.processes,
    durationS: number(v.duration, 'duration') ?? preset.durationS,
    instances: number(v.instances, 'instances') ?? preset.instances,
    fanoutWidth: number(v['fanout-width'], 'fanout-width') ?? preset.fanoutWidth,
    killEveryS: number(v['kill-every'], 'kill-every') ?? preset.killEveryS,
    terminateEveryS: number(v['terminate-connections-every'], 'terminate-connections-every') ?? preset.terminateEveryS,
    restartServer: v['crash-server'] === true ? 'crash' : v['restart-server'] === true ? 'stop' : null,
    embedded: v.embedded === true || v['restart-server'] === true || v['crash-server'] === true,
    url: v.url,
    json: v.json,
    settleS: number(v.settle, 'settle') ?? preset.settleS,
    lockMs: number(v['lock-ms'], 'lock-ms') ?? preset.lockMs,
    poolSize: number(v['pool-size'], 'pool-size') ?? 3,
    concurrency: number(v.concurrency, 'concurrency') ?? 8,
    keepSchema: v['keep-schema'] === true,
  };
}
