/**
 * (b) Fan-out: one orchestration running 1,000 activities and gathering their results, two ways:
 * one fanOut() actor (the fan-out primitive: one child, outputs in input order) and 1,000 children
 * spawned one by one (XState's own way, which copies the children map for every spawn).
 * Target: activities/s >= 2x pgbench TPS, for the fan-out primitive.
 */
import type { OrchestrationDefinition } from '../../runtime/index.js';
import { fanout as spawnedChildren, gather } from '../workloads/orchestrations.js';
import { defineWorkActivity } from '../workloads/work-activity.js';
import type { BenchContext } from './bench-context.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { secondsUntilLast, waitAllCompleted } from './completion.js';
import { allServerPids, startCpuMeter, type CpuSplit } from './cpu-meter.js';
import { cpuFigures } from './report.js';

/**
 * Seconds from the start of one instance of `definition` (1,000 wide at scale 1) to its completion,
 * and its turns; after an untimed instance a quarter as wide (as in the throughput benchmark: the
 * figure is for a process that has run the code before).
 */
async function timeOne(ctx: BenchContext, definition: OrchestrationDefinition, width: number): Promise<{ seconds: number; turns: number; cpu: CpuSplit }> {
  const s = await ctx.openSchema({ orchestrations: [definition], activities: [defineWorkActivity()] });
  try {
    await s.startDispatchers();
    await s.client.start(definition, { root: 'warm', width: Math.ceil(width / 4) }, { instanceId: 'warm' });
    await waitAllCompleted(s.provider, 1, 30 * 60_000);
    const meter = await startCpuMeter(s.dispatcherPids, () => allServerPids(s.pool));
    const startedAt = Date.now();
    await s.client.start(definition, { root: 'f', width }, { instanceId: 'f' });
    let cpu: CpuSplit | undefined;
    const timed = (await waitAllCompleted(s.provider, 2, 30 * 60_000, async () => (cpu = await meter.stop()))).filter((r) => r.instanceId === 'f');
    return { seconds: secondsUntilLast(timed, startedAt), turns: timed[0]?.turns ?? 0, cpu: cpu! };
  } finally {
    await s.close();
  }
}

export const fanout: Bench = {
  name: 'fanout',
  async run(ctx) {
    const width = ctx.size(1000, 50);
    const primitive = await timeOne(ctx, gather, width);
    const spawned = await timeOne(ctx, spawnedChildren, width);
    const activitiesPerS = width / primitive.seconds;
    return {
      name: 'fanout',
      params: { width, warmup: Math.ceil(width / 4), concurrency: ctx.options.concurrency, poolSize: ctx.options.poolSize, processes: ctx.options.processes },
      figures: [
        { name: 'activities/s, fanOut()', value: activitiesPerS, unit: '1/s', perPgbench: true },
        { name: 'turns, fanOut()', value: primitive.turns, unit: '' },
        { name: 'elapsed, fanOut()', value: primitive.seconds, unit: 's' },
        ...cpuFigures(primitive.cpu, width, 'activity, fanOut()', ctx.pgbench),
        { name: 'activities/s, spawned children', value: width / spawned.seconds, unit: '1/s', perPgbench: true },
        { name: 'turns, spawned children', value: spawned.turns, unit: '' },
        { name: 'elapsed, spawned children', value: spawned.seconds, unit: 's' },
        ...cpuFigures(spawned.cpu, width, 'activity, spawned children', ctx.pgbench),
      ],
      targets: [{ what: 'activities/s (fanOut) >= 2x pgbench TPS', pass: activitiesPerS >= 2 * ctx.pgbench.tps }],
    };
  },
};

if (isMain(import.meta.url)) await runBenches([fanout], process.argv.slice(2));
