/**
 * The end of every property run. `drainAndCheck` moves time past every lock and delay and consumes
 * everything left, through the same checked commands, so the run proves that each message enqueued
 * and not consumed is still delivered exactly once (nothing lost), and the shared provider is empty
 * for the next run. `scrub` is the unchecked version that cleans up after a failed run.
 */
import type { ManualClock } from '../../providers/clock.js';
import type { Provider } from '../../providers/contract.js';
import { sampleDelta } from '../conformance/helpers.js';
import { AckCmd, FetchCmd, LOCK_MS } from './commands.js';
import { canonicalJson, LockstepMismatch, type Lockstep } from './lockstep.js';
import type { QueueModel } from './model.js';
import { PropertyViolation } from './model.js';

/** Longer than any lock or delay the commands create; a multiple of 1000 like every clock step. */
const PAST_EVERYTHING_MS = 3_600_000;
const MAX_ROUNDS = 50;
const BATCH = 10;

/** Ack every visible work item on both sides; each result becomes a message the model expects. */
async function drainWorkItems(m: QueueModel, r: Lockstep): Promise<number> {
  const opts = { lockMs: LOCK_MS[0], max: BATCH, owner: 'drain' };
  const { put, ref } = await r.both((p) => p.fetchWorkItems(opts));
  if (!put.ok) throw put.error; // a fetch has no reason to fail here
  if (!ref.ok) throw ref.error;
  const view = (items: typeof put.value) => canonicalJson(items.map((w) => [w.instanceId, w.activityId, w.attempt]));
  if (view(put.value) !== view(ref.value)) throw new LockstepMismatch(`fetchWorkItems\n  provider:  ${view(put.value)}\n  reference: ${view(ref.value)}`);
  for (const [i, item] of put.value.entries()) {
    const k = m.messages.length;
    const result = { instanceId: item.instanceId, kind: 'activityCompleted' as const, payload: { activityId: item.activityId, output: null, k } };
    const out = await r.both((p, side) => p.ackWorkItem(side === 'put' ? item.lockToken : ref.value[i]!.lockToken, result));
    if (!out.put.ok) throw new PropertyViolation('no-loss', `ackWorkItem of a freshly fetched item failed: ${String(out.put.error)}`);
    r.assertSameOutcome('ackWorkItem', out);
    m.workItems -= 1;
    m.addMessage(item.instanceId, m.now);
  }
  return put.value.length;
}

export async function drainAndCheck(m: QueueModel, r: Lockstep): Promise<void> {
  r.advance(PAST_EVERYTHING_MS);
  m.now += PAST_EVERYTHING_MS;
  const drainer = m.holdings.length - 1; // reserved: the commands never use the last dispatcher slot
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const work = await drainWorkItems(m, r);
    const first = m.holdings[drainer]!.length;
    await new FetchCmd(drainer, LOCK_MS[0], BATCH).run(m, r);
    const fetched = m.holdings[drainer]!.length - first;
    for (let i = first; i < first + fetched; i++) await new AckCmd(drainer, i, 'consume', 0).run(m, r);
    if (work === 0 && fetched === 0) break;
  }
  const left = m.messages.filter((x) => !x.consumed).map((x) => `#${x.k}`);
  if (left.length > 0 || m.workItems > 0) {
    throw new PropertyViolation('no-loss', `after every lock and delay passed, never delivered: messages [${left}], ${m.workItems} work items`);
  }
}

/** Best effort, provider side only: leave nothing queued or locked for the next run. */
export async function scrub(put: Provider, clock: ManualClock): Promise<void> {
  clock.advance(PAST_EVERYTHING_MS);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const work = await put.fetchWorkItems({ lockMs: LOCK_MS[0], max: BATCH });
    for (const w of work) {
      await put.ackWorkItem(w.lockToken, { instanceId: w.instanceId, kind: 'activityCompleted', payload: { activityId: w.activityId, output: null, k: -1 } }).catch(() => {});
    }
    const items = await put.fetchOrchestrationItems({ lockMs: LOCK_MS[0], max: BATCH });
    for (const item of items) await put.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { executionId: item.executionId } })).catch(() => {});
    if (work.length === 0 && items.length === 0) return;
  }
}
