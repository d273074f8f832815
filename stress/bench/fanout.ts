/** (b) Fan-out: one orchestration spawning 1,000 activities and gathering them. Target: activities/s >= 2x pgbench TPS. */
import { fanout as fanoutDefinition } from '../workloads/orchestrations.js';
import { defineWorkActivity } from '../workloads/work-activity.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { secondsUntilLast, waitAllCompleted } from './completion.js';

export const fanout: Bench = {
  name: 'fanout',
  async run(ctx) {
    const width = ctx.size(1000, 50);
    const s = await ctx.openSchema({ orchestrations: [fanoutDefinition], activities: [defineWorkActivity()] });
    try {
      await s.startDispatchers();
      const startedAt = Date.now();
      await s.client.start(fanoutDefinition, { root: 'f', width }, { instanceId: 'f' });
      const records = await waitAllCompleted(s.provider, 1, 30 * 60_000);
      const seconds = secondsUntilLast(records, startedAt);
      const activitiesPerS = width / seconds;
      return {
        name: 'fanout',
        params: { width, concurrency: ctx.options.concurrency, poolSize: ctx.options.poolSize, processes: ctx.options.processes },
        figures: [
          { name: 'activities/s', value: activitiesPerS, unit: '1/s', perPgbench: true },
          { name: 'turns', value: records[0]?.turns ?? 0, unit: '' },
          { name: 'elapsed', value: seconds, unit: 's' },
        ],
        targets: [{ what: 'activities/s >= 2x pgbench TPS', pass: activitiesPerS >= 2 * ctx.pgbench.tps }],
      };
    } finally {
      await s.close();
    }
  },
};

if (isMain(import.meta.url)) await runBenches([fanout], process.argv.slice(2));
