/**
 * `npm run bench [-- name...] [--scale S]`: every benchmark (or the named ones) against one
 * `pgbench -N` measurement taken at the start of the run.
 */
import { parseBenchOptions } from './bench-context.js';
import { runBenches, type Bench } from './bench.js';
import { fanout } from './fanout.js';
import { historyLength } from './history-length.js';
import { roundTrips } from './round-trips.js';
import { throughput } from './throughput.js';
import { timerQueue } from './timer-queue.js';
import { wakeLatency } from './wake-latency.js';

const ALL: Bench[] = [throughput, fanout, wakeLatency, roundTrips, historyLength, timerQueue];
const argv = process.argv.slice(2);
const positionals = parseBenchOptions(argv).names;
const unknown = positionals.filter((p) => !ALL.some((b) => b.name === p));
if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${ALL.map((b) => b.name).join(', ')}`);
await runBenches(positionals.length ? ALL.filter((b) => positionals.includes(b.name)) : ALL, argv);
