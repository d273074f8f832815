/**
 * (f) Fetch time with 1,000,000 future timers queued vs an empty queue, through the provider
 * contract alone (no runtime), in two schemas of one server, one empty and one loaded: timers are
 * committed by acks of holder instances, 10,000 per ack, as a turn would; each probe enqueues one
 * visible start, times the fetch that returns it, and the ack of its turn. An empty fetch (nothing
 * visible: the idle poll) is timed too. The two schemas are probed in turns. Target: within 1.5x.
 * The ack is timed because it once was the casualty: each walked the whole queue (200 ms).
 */
import { performance } from 'node:perf_hooks';
import type { OrchestrationDelta, Provider } from '../../providers/index.js';
import { isMain, runBenches, type Bench } from './bench.js';
import { percentile } from './percentiles.js';

const TIMERS_PER_ACK = 10_000;
const DAY_MS = 24 * 3600_000;
const LOCK_MS = 30_000;

/** The smallest delta that creates (or updates) an instance: what a turn of a trivial machine commits. */
function delta(status: 'running' | 'completed', extra: Partial<OrchestrationDelta> = {}): OrchestrationDelta {
  return {
    instance: {
      name: 'bench.probe', version: '1', executionId: 1, status, stateValue: null, context: null, input: null,
      output: null, error: null, snapshot: null, definitionHash: 'bench', parent: null,
    },
    history: [], messages: [], timers: [], workItems: [], cancelTimers: [], cancelActivities: [], keepMessageIds: [], deadLetterMessageIds: [],
    ...extra,
  };
}

async function takeOne(provider: Provider, instanceId: string) {
  const [item] = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 1 });
  if (!item || item.instanceId !== instanceId) throw new Error(`expected to fetch ${instanceId}, got ${item?.instanceId ?? 'nothing'}`);
  return item;
}

/** One probe: the fetch of one visible start, its ack, and a fetch with nothing visible. */
async function probeOnce(provider: Provider, id: string): Promise<{ found: number; ack: number; empty: number }> {
  await provider.enqueueOrchestratorMessage({ instanceId: id, kind: 'start', payload: { name: 'bench.probe', input: null } });
  let t0 = performance.now();
  const item = await takeOne(provider, id);
  const found = performance.now() - t0;
  t0 = performance.now();
  await provider.ackOrchestrationItem(item.lockToken, delta('completed'));
  const ack = performance.now() - t0;
  t0 = performance.now();
  const none = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 1 });
  const empty = performance.now() - t0;
  if (none.length) throw new Error('the queue should have nothing visible');
  return { found, ack, empty };
}

type Samples = { found: number[]; ack: number[]; empty: number[] };

/**
 * Both schemas probed in turns, sample by sample: the box is shared and noisy, and drift between
 * two phases measured a minute apart (the load in between) was larger than the effect measured.
 */
async function probeInTurns(providers: { empty: Provider; loaded: Provider }, label: string, samples: number): Promise<{ empty: Samples; loaded: Samples }> {
  const out: { empty: Samples; loaded: Samples } = { empty: { found: [], ack: [], empty: [] }, loaded: { found: [], ack: [], empty: [] } };
  for (let i = 0; i < samples; i++) {
    for (const which of i % 2 === 0 ? (['empty', 'loaded'] as const) : (['loaded', 'empty'] as const)) {
      const r = await probeOnce(providers[which], `probe-${label}-${i}`);
      out[which].found.push(r.found);
      out[which].ack.push(r.ack);
      out[which].empty.push(r.empty);
    }
  }
  return out;
}

async function queueTimers(provider: Provider, total: number): Promise<number> {
  const t0 = performance.now();
  const now = await provider.now();
  for (let made = 0, holder = 0; made < total; holder++) {
    const id = `holder-${holder}`;
    await provider.enqueueOrchestratorMessage({ instanceId: id, kind: 'start', payload: { name: 'bench.probe', input: null } });
    const item = await takeOne(provider, id);
    const n = Math.min(TIMERS_PER_ACK, total - made);
    const timers = Array.from({ length: n }, (_, k) => ({ timerId: `t${k}`, fireAt: now + DAY_MS + made + k, executionId: 1, payload: { type: 'LATER' } }));
    await provider.ackOrchestrationItem(item.lockToken, delta('running', { timers }));
    made += n;
  }
  return (performance.now() - t0) / 1000;
}

export const timerQueue: Bench = {
  name: 'timer-queue',
  async run(ctx) {
    const timers = ctx.size(1_000_000, 10_000);
    const samples = ctx.size(200, 30);
    const emptySchema = await ctx.openSchema({ orchestrations: [], activities: [] });
    const loadedSchema = await ctx.openSchema({ orchestrations: [], activities: [] });
    try {
      const loadSeconds = await queueTimers(loadedSchema.provider, timers);
      // Warm both alike (connections, prepared statements, plans) before anything is timed.
      await probeInTurns({ empty: emptySchema.provider, loaded: loadedSchema.provider }, 'warm', 5);
      const { empty: before, loaded: after } = await probeInTurns({ empty: emptySchema.provider, loaded: loadedSchema.provider }, 'timed', samples);
      const p50 = (xs: number[]) => percentile(xs, 50);
      const foundRatio = p50(after.found) / p50(before.found);
      const emptyRatio = p50(after.empty) / p50(before.empty);
      const ackRatio = p50(after.ack) / p50(before.ack);
      return {
        name: 'timer-queue',
        params: { timers, samples },
        figures: [
          { name: 'fetch (1 item) p50, empty queue', value: p50(before.found), unit: 'ms' },
          { name: `fetch (1 item) p50, ${timers} timers`, value: p50(after.found), unit: 'ms' },
          { name: 'fetch (nothing visible) p50, empty queue', value: p50(before.empty), unit: 'ms' },
          { name: `fetch (nothing visible) p50, ${timers} timers`, value: p50(after.empty), unit: 'ms' },
          { name: 'ack of its turn p50, empty queue', value: p50(before.ack), unit: 'ms' },
          { name: `ack of its turn p50, ${timers} timers`, value: p50(after.ack), unit: 'ms' },
          { name: 'fetch (1 item) ratio loaded/empty', value: foundRatio, unit: 'x' },
          { name: 'fetch (nothing visible) ratio loaded/empty', value: emptyRatio, unit: 'x' },
          { name: 'ack ratio loaded/empty', value: ackRatio, unit: 'x' },
          { name: 'timers queued per second', value: timers / loadSeconds, unit: '1/s' },
        ],
        targets: [
          { what: 'fetch of 1 item within 1.5x of the empty queue (p50)', pass: foundRatio <= 1.5 },
          { what: 'empty fetch within 1.5x of the empty queue (p50)', pass: emptyRatio <= 1.5 },
          { what: 'ack within 1.5x of the empty queue (p50)', pass: ackRatio <= 1.5 },
        ],
        details: {
          p99: {
            foundEmpty: percentile(before.found, 99), foundLoaded: percentile(after.found, 99), emptyEmpty: percentile(before.empty, 99),
            emptyLoaded: percentile(after.empty, 99), ackEmpty: percentile(before.ack, 99), ackLoaded: percentile(after.ack, 99),
          },
        },
      };
    } finally {
      await emptySchema.close();
      await loadedSchema.close();
    }
  },
};

if (isMain(import.meta.url)) await runBenches([timerQueue], process.argv.slice(2));
