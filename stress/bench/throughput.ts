/**
 * (a) Throughput: many concurrent 1-activity orchestrations (a chain of one step: a start turn that
 * schedules the activity, the activity, a turn that completes). Target: turns/s >= 1.0x pgbench TPS.
 */
import { chain } from '../workloads/orchestrations.js';
import { defineWorkActivity } from '../workloads/work-activity.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { secondsUntilLast, waitAllCompleted } from './completion.js';

const START_BATCH = 50;

export const throughput: Bench = {
  name: 'throughput',
  async run(ctx) {
    const n = ctx.size(2000, 20);
    const s = await ctx.openSchema({ orchestrations: [chain], activities: [defineWorkActivity()] });
    try {
      await s.startDispatchers();
      const startedAt = Date.now();
      for (let i = 0; i < n; i += START_BATCH) {
        const ids = Array.from({ length: Math.min(START_BATCH, n - i) }, (_, k) => `t${i + k}`);
        await Promise.all(ids.map((id) => s.client.start(chain, { root: id, prefix: 'step', steps: 1 }, { instanceId: id })));
      }
      const records = await waitAllCompleted(s.provider, n, 30 * 60_000);
      const seconds = secondsUntilLast(records, startedAt);
      const turns = records.reduce((t, r) => t + r.turns, 0);
      const turnsPerS = turns / seconds;
      return {
        name: 'throughput',
        params: { orchestrations: n, concurrency: ctx.options.concurrency, poolSize: ctx.options.poolSize, processes: ctx.options.processes },
        figures: [
          { name: 'orchestrations/s', value: n / seconds, unit: '1/s', perPgbench: true },
          { name: 'turns/s', value: turnsPerS, unit: '1/s', perPgbench: true },
          { name: 'activities/s', value: n / seconds, unit: '1/s', perPgbench: true },
          { name: 'turns per orchestration', value: turns / n, unit: '' },
          { name: 'elapsed', value: seconds, unit: 's' },
        ],
        targets: [{ what: 'turns/s >= 1.0x pgbench TPS', pass: turnsPerS >= ctx.pgbench.tps }],
      };
    } finally {
      await s.close();
    }
  },
};

if (isMain(import.meta.url)) await runBenches([throughput], process.argv.slice(2));
