/**
 * One work item of a batched fan-out (fanOut(def, { batchSize })): its elements run at once under
 * the item's one lock (one renewal for all of them), each with its own timeout and attempts. An
 * element that fails with attempts left is retried here, after the policy's backoff: the item
 * cannot be abandoned for one element without running the others again. The verdicts, each under
 * its element's activity id, go back in one 'activityResults' message (contract: ackWorkItem).
 * Attempt numbers start at the item's fetch count, so a batch that keeps crashing its worker ends
 * as poison like any other item.
 */
import type { Logger } from 'pino';
import type { ActivityResult, Json, OrchestratorMessageInput, Provider, WorkItem } from '../../providers/contract.js';
import type { LockLostError } from '../../providers/errors.js';
import type { ActivityDefinition } from '../definitions/activity-definition.js';
import { retryDelayMs } from '../definitions/retry-policy.js';
import { toErrorInfo } from '../engine/error-info.js';
import { elementActivityId, type FanOutBatch } from '../engine/fan-out-state.js';
import { checkOutput, runActivityAttempt } from './activity-attempt.js';
import { whenAborted } from './abort-listeners.js';
import { sleep } from './backoff.js';
import { startLockRenewal } from './lock-renewal.js';

/** The batch a work item carries, or undefined for an item of one activity run. */
export function batchOf(payload: Json): FanOutBatch | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const batch = payload.batch as Partial<FanOutBatch> | undefined;
  return batch && typeof batch.fanOutId === 'string' && Number.isInteger(batch.first) && Array.isArray(batch.inputs) ? (batch as FanOutBatch) : undefined;
}

/** The message that reports `results` (one per element of the batch, in element order). */
export function batchResultsMessage(item: WorkItem, results: ActivityResult[]): OrchestratorMessageInput {
  return { instanceId: item.instanceId, executionId: item.executionId, kind: 'activityResults', payload: { results } as unknown as Json };
}

/** Every element of the batch failed with `error` (poison: the batch never finished). */
export function failedBatch(batch: FanOutBatch, error: Json): ActivityResult[] {
  return batch.inputs.map((_, i) => ({ kind: 'activityFailed', payload: { activityId: elementActivityId(batch.fanOutId, batch.first + i), error } }));
}

export type BatchOutcome = { kind: 'results'; results: ActivityResult[] } | { kind: 'lockLost' } | { kind: 'givenUp' };

export interface BatchOptions {
  provider: Provider;
  definition: ActivityDefinition;
  item: WorkItem;
  batch: FanOutBatch;
  maxAttempts: number;
  maxPayloadBytes: number;
  lockMs: number;
  logger: Logger;
  giveUp: AbortSignal;
}

export async function runBatch(opts: BatchOptions): Promise<BatchOutcome> {
  const { provider, definition, item, batch, maxAttempts, lockMs, logger, giveUp } = opts;
  const lost = new AbortController();
  // Ends a retry's backoff early: the batch is lost, or shutdown gave up.
  const interrupted = new AbortController();
  const renewal = startLockRenewal({
    renew: () => provider.renewWorkItemLock(item.lockToken, lockMs), lockMs, logger,
    onLost: (err: LockLostError) => (lost.abort(err), interrupted.abort()),
  });
  const stopListening = whenAborted(giveUp, () => interrupted.abort());

  const runElement = async (input: Json, index: number): Promise<ActivityResult | 'lockLost' | 'givenUp'> => {
    const activityId = elementActivityId(batch.fanOutId, batch.first + index);
    for (let attempt = item.attempt; ; attempt++) {
      const attemptItem: WorkItem = { ...item, activityId, attempt };
      const result = checkOutput(
        await runActivityAttempt({ provider, definition, item: attemptItem, input, lockMs, logger, giveUp, sharedLock: { lost: lost.signal } }),
        definition.name, opts.maxPayloadBytes,
      );
      if (result.kind === 'succeeded') return { kind: 'activityCompleted', payload: { activityId, output: result.output as Json } };
      if (result.kind !== 'failed') return result.kind;
      if (attempt >= maxAttempts) {
        logger.error({ err: result.error, activityId, attempt }, 'batch element failed; no attempts left');
        return { kind: 'activityFailed', payload: { activityId, error: toErrorInfo(result.error) as unknown as Json } };
      }
      const delayMs = retryDelayMs(definition.retry, attempt, Math.random());
      logger.warn({ err: result.error, activityId, attempt, delayMs }, 'batch element failed; will retry in this worker');
      await sleep(delayMs, interrupted.signal);
      if (lost.signal.aborted) return 'lockLost';
      if (giveUp.aborted) return 'givenUp';
    }
  };

  try {
    const verdicts = await Promise.all(batch.inputs.map(runElement));
    if (verdicts.includes('lockLost')) return { kind: 'lockLost' };
    if (verdicts.includes('givenUp')) return { kind: 'givenUp' };
    return { kind: 'results', results: verdicts as ActivityResult[] };
  } finally {
    renewal.stop();
    stopListening();
  }
}
