/**
 * (a) Throughput: many concurrent 1-activity orchestrations (a chain of one step: a start turn that
 * schedules the activity, the activity, a turn that completes). Target: turns/s >= 1.0x pgbench TPS,
 * each round against pgbench measured right before and right after it (bracketing.ts); the table's
 * "x pgbench" column is against the run's first measurement, like every other benchmark's.
 *
 * A first, untimed round of the same size runs before the timed ones: the figure is the dispatcher's
 * steady state, not the first seconds of a process (modules compiled on first use, V8 optimising the
 * hot paths, each pooled connection preparing its statements and plans). A measured round right after
 * a process starts ran 25-30% slower, with 1.7x the Node CPU per orchestration, than the next one.
 */
import type { BenchSchema } from './bench-context.js';
import { chain } from '../workloads/orchestrations.js';
import { defineWorkActivity } from '../workloads/work-activity.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { secondsUntilLast, waitAllCompleted } from './completion.js';
import { bracketedRatios } from './bracketing.js';
import { allServerPids, startCpuMeter, sumCpuSplits, type CpuSplit } from './cpu-meter.js';
import { percentile } from './percentiles.js';
import { cpuFigures, roundRateFigures } from './report.js';

const START_BATCH = 50;

/** Starts n chains named `<prefix><i>` as fast as the client takes them; resolves with when it began (epoch ms). */
async function startRound(s: BenchSchema, prefix: string, n: number): Promise<number> {
  const startedAt = Date.now();
  for (let i = 0; i < n; i += START_BATCH) {
    const ids = Array.from({ length: Math.min(START_BATCH, n - i) }, (_, k) => `${prefix}${i + k}`);
    await Promise.all(ids.map((id) => s.client.start(chain, { root: id, prefix: 'step', steps: 1 }, { instanceId: id })));
  }
  return startedAt;
}

/** Timed rounds after the untimed one; the figure is the median round's (one round is ~0.5-1 s on this box). */
const ROUNDS = 3;

export const throughput: Bench = {
  name: 'throughput',
  async run(ctx) {
    const n = ctx.size(2000, 20);
    const s = await ctx.openSchema({ orchestrations: [chain], activities: [defineWorkActivity()] });
    try {
      await s.startDispatchers();
      await startRound(s, 'warm', n);
      await waitAllCompleted(s.provider, n, 30 * 60_000);
      const rates: number[] = [];
      const splits: CpuSplit[] = [];
      /** pgbench TPS before each round and after the last: round i lies between [i] and [i + 1]. */
      const tpsAround: number[] = [];
      let turns = 0;
      for (let round = 0; round < ROUNDS; round++) {
        tpsAround.push((await ctx.measurePgbench()).tps);
        const prefix = `t${round}-`;
        // Each round's CPU from its first start to the moment the queues are empty: the listing of
        // every instance after it (4,000 and 6,000 after the first two rounds) is the harness's work.
        const cpu = await startCpuMeter(s.dispatcherPids, () => allServerPids(s.pool));
        const startedAt = await startRound(s, prefix, n);
        const records = (await waitAllCompleted(s.provider, (round + 2) * n, 30 * 60_000, async () => splits.push(await cpu.stop())))
          .filter((r) => r.instanceId.startsWith(prefix));
        const roundTurns = records.reduce((t, r) => t + r.turns, 0);
        rates.push(roundTurns / secondsUntilLast(records, startedAt));
        turns += roundTurns;
      }
      tpsAround.push((await ctx.measurePgbench()).tps);
      const ratios = bracketedRatios(rates, tpsAround);
      const ratio = percentile(ratios, 50);
      const turnsPerS = percentile(rates, 50);
      const perOrchestration = turns / (n * ROUNDS);
      return {
        name: 'throughput',
        params: { orchestrations: n, warmup: n, rounds: ROUNDS, concurrency: ctx.options.concurrency, groupSize: ctx.options.groupSize, poolSize: ctx.options.poolSize, processes: ctx.options.processes },
        figures: [
          ...roundRateFigures('turns/s', rates),
          { name: `turns/s / pgbench TPS around the round, median of ${ROUNDS}`, value: ratio, unit: 'x' },
          { name: 'turns/s / pgbench TPS around the round, lowest', value: Math.min(...ratios), unit: 'x' },
          { name: 'orchestrations/s (= activities/s), median round', value: turnsPerS / perOrchestration, unit: '1/s', perPgbench: true },
          { name: 'turns per orchestration', value: perOrchestration, unit: '' },
          ...cpuFigures(sumCpuSplits(splits), turns, 'turn', ctx.pgbench),
        ],
        targets: [{ what: 'turns/s >= 1.0x pgbench TPS around the round (median of rounds)', pass: ratio >= 1 }],
        details: { pgbenchTpsAroundRounds: tpsAround, ratiosAroundRounds: ratios },
      };
    } finally {
      await s.close();
    }
  },
};

if (isMain(import.meta.url)) await runBenches([throughput], process.argv.slice(2));
