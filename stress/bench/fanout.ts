/**
 * (b) Fan-out: one orchestration running 1,000 activities and gathering their results, two ways:
 * one fanOut() actor (the fan-out primitive: one child, outputs in input order) and 1,000 children
 * spawned one by one (XState's own way, which copies the children map for every spawn). Each is
 * timed over several such orchestrations in a row and reported by its median one.
 * Target: activities/s >= 2x pgbench TPS, for the fan-out primitive.
 */
import type { OrchestrationDefinition } from '../../runtime/index.js';
import { fanout as spawnedChildren, gather, gatherBatches } from '../workloads/orchestrations.js';
import { defineWorkActivity } from '../workloads/work-activity.js';
import type { BenchContext } from './bench-context.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { secondsUntilLast, waitAllCompleted } from './completion.js';
import { allServerPids, startCpuMeter, sumCpuSplits, type CpuSplit } from './cpu-meter.js';
import { percentile } from './percentiles.js';
import { cpuFigures, roundRateFigures, type Figure } from './report.js';

/** Timed instances per variant: one fan-out lasts ~0.2 s, within the noise of this shared box and of /proc's 10 ms CPU ticks. */
const ROUNDS = 5;

/** Untimed instances as wide before them, one after the other as the timed ones run (see timeRounds). */
const WARMUPS = 6;

interface Timed {
  /** Activities/s of each timed instance, from its start to its completion, in run order. */
  rates: number[];
  turns: number;
  /** Over all rounds. */
  cpu: CpuSplit;
}

/**
 * ROUNDS instances of `definition` (1,000 wide at scale 1), one after the other, each timed from its
 * start to its completion; after WARMUPS untimed ones as wide (as in the throughput benchmark: the
 * figures are for a process that has run the code before). A fan-out runs its turn-level code only
 * ~6 times an instance, and V8 took several instances to settle: after one warm-up instance the first
 * four timed rounds spent 60–100 ms of Node CPU each against 30–50 ms from the fifth on (at 9,300–
 * 12,000 activities/s against 13,300–16,000), after two or four the first still 80–100 ms, after six
 * none (12-05, third session, 2 runs each). Until 12-05 the warm-up was one instance a quarter as wide, then one as wide.
 */
async function timeRounds(ctx: BenchContext, definition: OrchestrationDefinition, width: number): Promise<Timed> {
  const s = await ctx.openSchema({ orchestrations: [definition], activities: [defineWorkActivity()] });
  try {
    await s.startDispatchers();
    for (let w = 0; w < WARMUPS; w++) {
      await s.client.start(definition, { root: `warm${w}`, width }, { instanceId: `warm${w}` });
      await waitAllCompleted(s.provider, w + 1, 30 * 60_000);
    }
    const rates: number[] = [];
    const splits: CpuSplit[] = [];
    let turns = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const instanceId = `f${round}`;
      // Each round's CPU until its queues are empty, without the listing that follows (as in throughput.ts).
      const meter = await startCpuMeter(s.dispatcherPids, () => allServerPids(s.pool));
      const startedAt = Date.now();
      await s.client.start(definition, { root: instanceId, width }, { instanceId });
      const done = (await waitAllCompleted(s.provider, WARMUPS + round + 1, 30 * 60_000, async () => splits.push(await meter.stop()))).filter((r) => r.instanceId === instanceId);
      rates.push(width / secondsUntilLast(done, startedAt));
      turns = done[0]?.turns ?? 0;
    }
    return { rates, turns, cpu: sumCpuSplits(splits) };
  } finally {
    await s.close();
  }
}

/** The figures of one variant: activities/s by round, turns, CPU per activity. */
function variantFigures(ctx: BenchContext, label: string, width: number, t: Timed): Figure[] {
  return [
    ...roundRateFigures(`activities/s, ${label}`, t.rates),
    { name: `turns, ${label}`, value: t.turns, unit: '' },
    ...cpuFigures(t.cpu, width * t.rates.length, `activity, ${label}`, ctx.pgbench),
  ];
}

export const fanout: Bench = {
  name: 'fanout',
  async run(ctx) {
    const width = ctx.size(1000, 50);
    const primitive = await timeRounds(ctx, gather, width);
    const batched = await timeRounds(ctx, gatherBatches, width);
    const spawned = await timeRounds(ctx, spawnedChildren, width);
    const perS = (t: Timed) => percentile(t.rates, 50);
    return {
      name: 'fanout',
      params: { width, warmups: WARMUPS, rounds: ROUNDS, concurrency: ctx.options.concurrency, groupSize: ctx.options.groupSize, poolSize: ctx.options.poolSize, processes: ctx.options.processes },
      figures: [
        ...variantFigures(ctx, 'fanOut()', width, primitive),
        ...variantFigures(ctx, 'fanOut() in batches of 25', width, batched),
        ...variantFigures(ctx, 'spawned children', width, spawned),
      ],
      targets: [
        { what: 'activities/s (fanOut, median round) >= 2x pgbench TPS', pass: perS(primitive) >= 2 * ctx.pgbench.tps },
        { what: 'activities/s (fanOut in batches, median round) >= 2x pgbench TPS', pass: perS(batched) >= 2 * ctx.pgbench.tps },
      ],
    };
  },
};

if (isMain(import.meta.url)) await runBenches([fanout], process.argv.slice(2));
