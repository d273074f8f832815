/**
 * (c) Wake latency on an idle system. Event raised -> turn started: from just before the event's
 * enqueue to the moment the runtime's fetch returns it (seen by a provider wrapper, sub-ms clock).
 * The event is enqueued through the provider so that only its own commit is timed, not the
 * client's existence check. Start -> result: client.start to client.waitForCompletion resolving.
 * Targets: event -> turn p50 < 2.5 ms, p99 < 5 ms.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { chain } from '../workloads/orchestrations.js';
import { defineWorkActivity } from '../workloads/work-activity.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { percentile } from './percentiles.js';
import { timeTurns } from './turn-timer.js';
import { waiter } from './waiter.js';

/** Pause between samples so every sample wakes an idle runtime. */
const IDLE_MS = 20;

export const wakeLatency: Bench = {
  name: 'wake-latency',
  async run(ctx) {
    const samples = ctx.size(200, 20);
    const s = await ctx.openSchema({ orchestrations: [waiter, chain], activities: [defineWorkActivity()] });
    try {
      const turns = timeTurns(s.provider);
      await s.startRuntime({ provider: turns.provider });
      const id = 'waiter';
      const firstTurn = turns.acked(id);
      await s.client.start(waiter, null, { instanceId: id });
      await firstTurn;

      const eventToTurn: number[] = [];
      for (let i = 0; i < samples; i++) {
        await sleep(IDLE_MS);
        const started = turns.next(id);
        const committed = turns.acked(id);
        const t0 = performance.now();
        await s.provider.enqueueOrchestratorMessage({ instanceId: id, kind: 'event', payload: { type: 'PING' } });
        eventToTurn.push((await started).fetchedAt - t0);
        await committed;
      }

      const startToResult: number[] = [];
      for (let i = 0; i < samples; i++) {
        await sleep(IDLE_MS);
        const t0 = performance.now();
        const { instanceId } = await s.client.start(chain, { root: `r${i}`, prefix: 'step', steps: 1 }, { instanceId: `r${i}` });
        await s.client.waitForCompletion(instanceId, { timeoutMs: 30_000 });
        startToResult.push(performance.now() - t0);
      }

      const p = (xs: number[], q: number) => percentile(xs, q);
      return {
        name: 'wake-latency',
        params: { samples, idleMs: IDLE_MS },
        figures: [
          { name: 'event -> turn started p50', value: p(eventToTurn, 50), unit: 'ms' },
          { name: 'event -> turn started p99', value: p(eventToTurn, 99), unit: 'ms' },
          { name: 'start -> result p50', value: p(startToResult, 50), unit: 'ms' },
          { name: 'start -> result p99', value: p(startToResult, 99), unit: 'ms' },
        ],
        targets: [
          { what: 'event -> turn p50 < 2.5 ms', pass: p(eventToTurn, 50) < 2.5 },
          { what: 'event -> turn p99 < 5 ms', pass: p(eventToTurn, 99) < 5 },
        ],
        details: { eventToTurnMax: Math.max(...eventToTurn), startToResultMax: Math.max(...startToResult) },
      };
    } finally {
      await s.close();
    }
  },
};

if (isMain(import.meta.url)) await runBenches([wakeLatency], process.argv.slice(2));
