/**
 * (e) Turn time at history length 10 vs 10,000: the same one-event turn (fetch returned -> ack
 * committed, seen by a provider wrapper) on an instance with a short and then a long history. The
 * waiter's context does not grow, so only history length differs. Target: long within 1.5x of short.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchSchema } from './bench-context.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { percentile } from './percentiles.js';
import { timeTurns } from './turn-timer.js';
import { waiter } from './waiter.js';

const ENQUEUE_BATCH = 100;

async function turnTimes(s: BenchSchema, turns: ReturnType<typeof timeTurns>, id: string, samples: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const committed = turns.acked(id);
    await s.provider.enqueueOrchestratorMessage({ instanceId: id, kind: 'event', payload: { type: 'PING' } });
    const mark = await committed;
    times.push(mark.ackedAt! - mark.fetchedAt);
  }
  return times;
}

/** Enqueue PINGs until the history holds `length` entries; the runtime applies them in large turns. */
async function growHistory(s: BenchSchema, id: string, length: number): Promise<void> {
  const current = (await s.provider.getInstance(id))?.historyLength ?? 0;
  for (let i = current; i < length; i += ENQUEUE_BATCH) {
    const n = Math.min(ENQUEUE_BATCH, length - i);
    await Promise.all(Array.from({ length: n }, () => s.provider.enqueueOrchestratorMessage({ instanceId: id, kind: 'event', payload: { type: 'PING' } })));
  }
  while (((await s.provider.getInstance(id))?.historyLength ?? 0) < length) await sleep(100);
}

export const historyLength: Bench = {
  name: 'history-length',
  async run(ctx) {
    const longLength = ctx.size(10_000, 500);
    const samples = ctx.size(200, 30);
    const s = await ctx.openSchema({ orchestrations: [waiter], activities: [] });
    try {
      const turns = timeTurns(s.provider);
      await s.startRuntime({ provider: turns.provider });
      const id = 'history';
      const first = turns.acked(id);
      await s.client.start(waiter, null, { instanceId: id });
      await first;
      await growHistory(s, id, 10);
      const short = await turnTimes(s, turns, id, samples);
      await growHistory(s, id, longLength);
      const long = await turnTimes(s, turns, id, samples);
      const ratio = percentile(long, 50) / percentile(short, 50);
      return {
        name: 'history-length',
        params: { shortLength: 10, longLength, samples },
        figures: [
          { name: 'turn p50, history 10', value: percentile(short, 50), unit: 'ms' },
          { name: `turn p50, history ${longLength}`, value: percentile(long, 50), unit: 'ms' },
          { name: 'turn p99, history 10', value: percentile(short, 99), unit: 'ms' },
          { name: `turn p99, history ${longLength}`, value: percentile(long, 99), unit: 'ms' },
          { name: 'p50 ratio long/short', value: ratio, unit: 'x' },
        ],
        targets: [{ what: `turn time at history ${longLength} within 1.5x of history 10 (p50)`, pass: ratio <= 1.5 }],
      };
    } finally {
      await s.close();
    }
  },
};

if (isMain(import.meta.url)) await runBenches([historyLength], process.argv.slice(2));
