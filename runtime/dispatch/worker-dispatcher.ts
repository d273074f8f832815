/**
 * The worker dispatcher: fetches work items (activity executions), runs each attempt, and reports
 * the verdict. Success acks `activityCompleted`; a failure with attempts left is abandoned with the
 * activity's retry backoff (the attempt counted); the last failure acks `activityFailed`, which the
 * machine receives as `xstate.error.actor.<id>`. The attempt number is the provider's fetch count,
 * so an attempt cut short by a crash counts too: a crash-looping item ends as failed (and
 * dead-lettered) instead of running forever. A batch of a fan-out's elements (fanOut's batchSize)
 * runs in fan-out-batch.ts and acks all their verdicts in one `activityResults` message.
 */
import type { Logger } from 'pino';
import type { Json, OrchestrationItem, OrchestratorMessageInput, Provider, WorkItem, WorkItemAckOptions } from '../../providers/contract.js';
import { LockLostError } from '../../providers/errors.js';
import type { ActivityDefinition } from '../definitions/activity-definition.js';
import { retryDelayMs } from '../definitions/retry-policy.js';
import { checkOutput, runActivityAttempt } from './activity-attempt.js';
import { batchOf, batchResultsMessage, failedBatch, runBatch } from './fan-out-batch.js';
import { retryTransient } from './backoff.js';
import { createDispatchLoop, type DispatchLoop, type Reservation } from './dispatch-loop.js';
import { childLogger } from '../logger.js';
import { toErrorInfo } from '../engine/error-info.js';

export interface WorkerDispatcherOptions {
  provider: Provider;
  activities: readonly ActivityDefinition[];
  concurrency: number;
  lockMs: number;
  /** Ceiling on attempts of any activity (the activity's own retry.maxAttempts applies when lower). */
  maxAttempts: number;
  maxPayloadBytes: number;
  pollWaitMs: number;
  /** How long an item of an activity this process does not have stays invisible before it is offered again. */
  unknownActivityDelayMs: number;
  owner: string;
  logger: Logger;
  /**
   * Result dispatch: a free slot of this process's orchestration dispatcher. An ack then asks the
   * provider to lock the result's instance (lockInstance) and hands its turn over, saving that
   * dispatcher a fetch. Absent: the instance waits for a fetch.
   */
  orchestrationSlot?: () => Reservation<OrchestrationItem> | null;
}

/** What the engine writes into a work item's payload (the definition's policy is read locally). */
function inputOf(payload: Json): Json {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) && 'input' in payload ? payload.input! : null;
}

export function createWorkerDispatcher(opts: WorkerDispatcherOptions): DispatchLoop<WorkItem> {
  const { provider, lockMs, owner } = opts;
  const byName = new Map(opts.activities.map((def) => [def.name, def]));
  const logger = opts.logger.child({ dispatcher: 'activities' });

  const ack = async (item: WorkItem, log: Logger, result: OrchestratorMessageInput, deadLetterReason?: string) => {
    const slot = opts.orchestrationSlot?.() ?? null;
    const ackOpts: WorkItemAckOptions = {
      ...(deadLetterReason ? { deadLetterReason } : {}),
      ...(slot ? { lockInstance: { lockMs, owner } } : {}),
    };
    let locked: OrchestrationItem | null = null;
    try {
      locked = (await retryTransient(() => provider.ackWorkItem(item.lockToken, result, ackOpts), { what: 'ackWorkItem', logger: log })) ?? null;
    } catch (err) {
      // Lost: the activity was cancelled or another worker owns it now; its verdict wins.
      if (err instanceof LockLostError) log.warn('lock lost before the result was recorded; result discarded');
      else throw err;
    } finally {
      // The orchestration dispatcher runs the turn the ack locked for it (nothing if it did not) and gets the slot back.
      slot?.fill(locked ? [locked] : []);
    }
  };
  const abandon = async (item: WorkItem, log: Logger, delayMs: number, countAttempt: boolean) => {
    try {
      await retryTransient(() => provider.abandonWorkItem(item.lockToken, { delayMs, countAttempt }), { what: 'abandonWorkItem', logger: log });
    } catch (err) {
      if (err instanceof LockLostError) log.warn('lock lost before the item could be abandoned');
      else throw err;
    }
  };
  const failed = (item: WorkItem, error: Json): OrchestratorMessageInput => ({
    instanceId: item.instanceId,
    executionId: item.executionId,
    kind: 'activityFailed',
    payload: { activityId: item.activityId, error },
  });

  const handle = async (item: WorkItem, giveUp: AbortSignal) => {
    const log = childLogger(logger, { instanceId: item.instanceId, executionId: item.executionId, activityId: item.activityId, activity: item.name, attempt: item.attempt });
    const definition = byName.get(item.name);
    if (!definition) {
      log.warn({ delayMs: opts.unknownActivityDelayMs }, 'activity not registered in this process; leaving it for another');
      return abandon(item, log, opts.unknownActivityDelayMs, false);
    }
    const maxAttempts = Math.min(definition.retry.maxAttempts, opts.maxAttempts);
    const batch = batchOf(item.payload);
    if (item.attempt > maxAttempts) {
      // Only a crash (or a lost lock) ends an attempt without a verdict, so this item is crash-looping.
      const reason = `activity '${item.name}' was fetched ${item.attempt} times without a result (max ${maxAttempts} attempts)`;
      log.error(reason);
      const error = { name: 'PoisonMessageError', code: 'POISON_MESSAGE', message: reason, details: { attempt: item.attempt, maxAttempts } };
      return ack(item, log, batch ? batchResultsMessage(item, failedBatch(batch, error)) : failed(item, error), reason);
    }
    if (batch) {
      log.debug({ elements: batch.inputs.length }, 'fan-out batch started');
      const outcome = await runBatch({ provider, definition, item, batch, maxAttempts, maxPayloadBytes: opts.maxPayloadBytes, lockMs, logger: log, giveUp });
      switch (outcome.kind) {
        case 'results':
          return ack(item, log, batchResultsMessage(item, outcome.results));
        case 'lockLost':
          log.warn('fan-out batch cancelled or its lock was lost; results discarded');
          return;
        case 'givenUp':
          log.info('shutting down; fan-out batch abandoned for another attempt');
          return abandon(item, log, 0, false);
      }
    }

    log.debug('activity attempt started');
    const result = checkOutput(await runActivityAttempt({ provider, definition, item, input: inputOf(item.payload), lockMs, logger: log, giveUp }), item.name, opts.maxPayloadBytes);
    switch (result.kind) {
      case 'succeeded':
        log.debug('activity attempt succeeded');
        return ack(item, log, {
          instanceId: item.instanceId,
          executionId: item.executionId,
          kind: 'activityCompleted',
          payload: { activityId: item.activityId, output: result.output as Json },
        });
      case 'lockLost':
        log.warn('activity cancelled or its lock was lost; result discarded');
        return;
      case 'givenUp':
        log.info('shutting down; activity abandoned for another attempt');
        return abandon(item, log, 0, false);
      case 'failed': {
        if (item.attempt < maxAttempts) {
          const delayMs = retryDelayMs(definition.retry, item.attempt, Math.random());
          log.warn({ err: result.error, delayMs }, 'activity attempt failed; will retry');
          return abandon(item, log, delayMs, true);
        }
        log.error({ err: result.error }, 'activity failed; no attempts left');
        return ack(item, log, failed(item, toErrorInfo(result.error) as unknown as Json));
      }
    }
  };

  return createDispatchLoop<WorkItem>({
    name: 'activities',
    concurrency: opts.concurrency,
    logger,
    fetch: (max, signal) => provider.fetchWorkItems({ lockMs, waitMs: opts.pollWaitMs, max, owner, signal }),
    handle,
    lockMs,
    release: async (items) => {
      await Promise.all(items.map((item) => provider.abandonWorkItem(item.lockToken, { countAttempt: false })));
    },
  });
}
