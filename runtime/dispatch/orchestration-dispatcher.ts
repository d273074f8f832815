/**
 * The orchestration dispatcher: fetches orchestration items (one locked instance with its new
 * messages), runs one turn of the pure engine on each, and commits the result with one ack. The
 * engine decides everything about the machine; this file only moves data between it and the
 * provider, keeps the instance lock alive, and decides what to do when something fails:
 * - a transient provider error: retried with jittered backoff;
 * - the lock lost (taken over after expiry): the result is dropped, the new holder redoes the turn;
 * - the engine itself throws: abandoned with a growing delay, the attempt counted, so the engine's
 *   poison handling ends a message that keeps failing after maxAttempts.
 */
import type { Logger } from 'pino';
import type { HistoryEvent, OrchestrationItem, Provider, WorkItem } from '../../providers/contract.js';
import { LockLostError, RetryableProviderError } from '../../providers/errors.js';
import type { OrchestrationRegistry } from '../definitions/registry.js';
import type { TurnOptions, TurnOutcome } from '../engine/api.js';
import { runTurn } from '../engine/index.js';
import { childLogger, writeTurnLog } from '../logger.js';
import { runAfterCommitActions } from './after-commit.js';
import { backoffMs, retryTransient } from './backoff.js';
import { createDispatchLoop, type DispatchLoop, type Reservation } from './dispatch-loop.js';
import { startLockRenewal } from './lock-renewal.js';
import { MachineCache } from './machine-cache.js';

export interface OrchestrationDispatcherOptions {
  provider: Provider;
  registry: OrchestrationRegistry;
  turnOptions: TurnOptions;
  concurrency: number;
  lockMs: number;
  pollWaitMs: number;
  owner: string;
  logger: Logger;
  /**
   * Eager dispatch: free slots of this process's worker. A turn that schedules activities asks its
   * ack to lock them for the worker (with the same lockMs and owner) and hands them over, saving
   * the worker a fetch round trip. Absent: the worker fetches them.
   */
  workerSlots?: (n: number) => Reservation<WorkItem> | null;
  /** Live machines kept between turns (machine-cache.ts); 0 restores every turn from the stored snapshot. */
  machineCacheSize: number;
}

/** Delay before a turn the engine failed on is offered again: grows with the attempt, 1 s to 1 min. */
const engineFailureDelayMs = (attempt: number) => backoffMs(attempt, { baseMs: 1_000, maxMs: 60_000 });

async function collect(history: AsyncIterable<HistoryEvent>): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const event of history) events.push(event);
  return events;
}

export function createOrchestrationDispatcher(opts: OrchestrationDispatcherOptions): DispatchLoop<OrchestrationItem> {
  const { provider, registry, lockMs } = opts;
  const logger = opts.logger.child({ dispatcher: 'orchestrations' });
  const machines = new MachineCache(opts.machineCacheSize);

  const abandon = async (item: OrchestrationItem, log: Logger, delayMs: number, countAttempt: boolean) => {
    try {
      await retryTransient(() => provider.abandonOrchestrationItem(item.lockToken, { delayMs, countAttempt }), { what: 'abandonOrchestrationItem', logger: log });
    } catch (err) {
      // Lost: someone else holds the instance now. Anything else: the lock expires on its own.
      log.warn({ err }, 'could not abandon the orchestration item');
    }
  };

  /** The turn's outcome, reading the execution's history first when the engine needs to replay. */
  const decide = async (item: OrchestrationItem, log: Logger): Promise<TurnOutcome> => {
    const resume = machines.take(item.instanceId);
    const first = await runTurn({ item, registry, options: opts.turnOptions, ...(resume ? { resume } : {}) });
    if (first.kind !== 'needHistory') return first;
    const history = await retryTransient(() => collect(provider.readHistory(item.instanceId, { executionId: first.executionId })), { what: 'readHistory', logger: log });
    log.debug({ events: history.length }, 'replaying history');
    const second = await runTurn({ item, registry, history, options: opts.turnOptions });
    if (second.kind === 'needHistory') throw new Error('the engine asked for history again after receiving it');
    return second;
  };

  const handle = async (item: OrchestrationItem, giveUp: AbortSignal) => {
    let log = childLogger(logger, { instanceId: item.instanceId, executionId: item.executionId });
    let lockLost = false;
    // Replays of long histories and slow acks can outlast the lock; keep it while we work.
    const renewal = startLockRenewal({
      renew: () => provider.renewOrchestrationLock(item.lockToken, lockMs),
      lockMs,
      logger: log,
      onLost: () => (lockLost = true),
    });
    try {
      let outcome: TurnOutcome;
      try {
        outcome = await decide(item, log);
      } catch (err) {
        if (err instanceof RetryableProviderError) {
          log.warn({ err }, 'storage unavailable while preparing the turn; abandoned');
          return abandon(item, log, engineFailureDelayMs(1), false);
        }
        const delayMs = engineFailureDelayMs(item.attempt);
        log.error({ err, attempt: item.attempt, delayMs }, 'the turn failed in the engine; abandoned for a retry');
        return abandon(item, log, delayMs, true);
      }
      if (lockLost) return log.warn('instance lock lost during the turn; result dropped');
      if (giveUp.aborted) return abandon(item, log, 0, false);

      if (outcome.kind === 'abandon') {
        log.warn({ reason: outcome.reason, delayMs: outcome.delayMs }, 'turn abandoned: this process cannot run it');
        return abandon(item, log, outcome.delayMs, false);
      }
      if (outcome.kind !== 'commit') throw new Error(`unexpected turn outcome ${outcome.kind}`);

      log = childLogger(logger, { instanceId: item.instanceId, executionId: outcome.executionId, turn: outcome.turn });
      const { workItems } = outcome.delta;
      const slots = workItems.length > 0 ? opts.workerSlots?.(workItems.length) ?? null : null;
      const ackOpts = slots ? { lockWorkItems: { lockMs, max: slots.slots, owner: opts.owner } } : undefined;
      let eager: WorkItem[] = [];
      try {
        eager = (await retryTransient(() => provider.ackOrchestrationItem(item.lockToken, outcome.delta, ackOpts), { what: 'ackOrchestrationItem', logger: log })) ?? [];
      } catch (err) {
        if (err instanceof LockLostError) return log.warn('instance lock lost before the commit; another dispatcher redoes the turn');
        if (err instanceof RetryableProviderError) {
          log.error({ err }, 'could not commit the turn; abandoned');
          return abandon(item, log, engineFailureDelayMs(1), false);
        }
        // The provider refused the delta (e.g. a constraint): an engine bug for this instance. Count it.
        const delayMs = engineFailureDelayMs(item.attempt);
        log.error({ err, delayMs }, 'the provider rejected the turn; abandoned for a retry');
        return abandon(item, log, delayMs, true);
      } finally {
        // The worker runs what the ack locked for it (nothing if it failed) and gets the other slots back.
        slots?.fill(eager);
      }
      if (outcome.resume) machines.put(item.instanceId, outcome.resume);
      // Only now: a turn that failed to commit is redone, and would log the same facts again.
      writeTurnLog(log, outcome.log);
      renewal.stop();
      const { instance } = outcome.delta;
      await runAfterCommitActions(registry.lookup(instance.name, instance.version), outcome.afterCommit, {
        instanceId: item.instanceId,
        executionId: instance.executionId,
        context: instance.context,
        logger: log,
      });
    } finally {
      renewal.stop();
    }
  };

  return createDispatchLoop<OrchestrationItem>({
    name: 'orchestrations',
    concurrency: opts.concurrency,
    logger,
    fetch: (max, signal) => provider.fetchOrchestrationItems({ lockMs: opts.lockMs, waitMs: opts.pollWaitMs, max, owner: opts.owner, signal }),
    handle,
    lockMs: opts.lockMs,
    release: async (items) => {
      await Promise.all(items.map((item) => provider.abandonOrchestrationItem(item.lockToken, { countAttempt: false })));
    },
  });
}
