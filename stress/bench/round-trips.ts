/**
 * (d) Database round trips per 1-activity orchestration, counted by a pool wrapper under the
 * provider (every pool.query is one round trip), by statement. The benchmark's own reads
 * (completion polling, status) are excluded by statement name; everything the runtime and the
 * client's start send is counted, empty long-poll fetches and safety checks included.
 * Measured one orchestration at a time (an idle system) and all at once (batched fetches). Target: <= 6.
 */
import { chain } from '../workloads/orchestrations.js';
import { defineWorkActivity } from '../workloads/work-activity.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { waitAllCompleted } from './completion.js';
import { countingPool, type QueryCounter } from './counting-pool.js';

/** Statements only this benchmark's observation sends (the runtime's turn path never does). */
const OBSERVATION = new Set(['queue_depths', 'list_instances', 'get_instance', 'pending_start']);
const TARGET = 6;

function perOrchestration(counter: QueryCounter, n: number): { perOrchestration: number; byStatement: Record<string, number> } {
  const byStatement = counter.byStatement();
  const counted = Object.entries(byStatement).filter(([k]) => !OBSERVATION.has(k)).reduce((t, [, v]) => t + v, 0);
  return { perOrchestration: counted / n, byStatement };
}

export const roundTrips: Bench = {
  name: 'round-trips',
  async run(ctx) {
    const sequential = ctx.size(50, 10);
    const batch = ctx.size(200, 20);
    let counter: QueryCounter | undefined;
    const s = await ctx.openSchema({
      orchestrations: [chain],
      activities: [defineWorkActivity()],
      wrapPool: (pool, schema) => {
        const c = countingPool(pool, schema);
        counter = c.counter;
        return c.pool;
      },
    });
    try {
      await s.startRuntime();
      counter!.reset(); // opening (migrations, clock) is not per-orchestration work
      for (let i = 0; i < sequential; i++) {
        const { instanceId } = await s.client.start(chain, { root: `s${i}`, prefix: 'step', steps: 1 }, { instanceId: `s${i}` });
        await s.client.waitForCompletion(instanceId, { timeoutMs: 30_000 });
      }
      const seq = perOrchestration(counter!, sequential);

      counter!.reset();
      await Promise.all(Array.from({ length: batch }, (_, i) => s.client.start(chain, { root: `b${i}`, prefix: 'step', steps: 1 }, { instanceId: `b${i}` })));
      await waitAllCompleted(s.provider, sequential + batch, 10 * 60_000);
      const all = perOrchestration(counter!, batch);
      return {
        name: 'round-trips',
        params: { sequential, batch, concurrency: ctx.options.concurrency },
        figures: [
          { name: 'round trips / orchestration, one at a time', value: seq.perOrchestration, unit: '' },
          { name: 'round trips / orchestration, all at once', value: all.perOrchestration, unit: '' },
        ],
        targets: [
          { what: `<= ${TARGET} round trips, one at a time`, pass: seq.perOrchestration <= TARGET },
          { what: `<= ${TARGET} round trips, all at once`, pass: all.perOrchestration <= TARGET },
        ],
        details: { sequentialByStatement: seq.byStatement, batchByStatement: all.byStatement, excluded: [...OBSERVATION] },
      };
    } finally {
      await s.close();
    }
  },
};

if (isMain(import.meta.url)) await runBenches([roundTrips], process.argv.slice(2));
