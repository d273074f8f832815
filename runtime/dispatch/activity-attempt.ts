/**
 * One attempt of one activity: run its function with an AbortSignal that fires on timeout, on a
 * missing heartbeat, on a lost lock (cancelled or taken over) and when shutdown gives up. The
 * attempt settles as soon as one of those happens, without waiting for a function that ignores
 * its signal: the lock is what makes the result count, and a late result is simply discarded.
 */
import type { Logger } from 'pino';
import type { Json, Provider, WorkItem } from '../../providers/contract.js';
import { LockLostError } from '../../providers/errors.js';
import type { ActivityDefinition } from '../definitions/activity-definition.js';
import { ActivityTimeoutError, RuntimeShutdownError } from './errors.js';
import { whenAborted } from './abort-listeners.js';
import { startLockRenewal } from './lock-renewal.js';
import { assertJsonSafe } from '../../providers/json-safety.js';

export type AttemptResult =
  | { kind: 'succeeded'; output: unknown }
  | { kind: 'failed'; error: unknown }
  /** The lock is gone (activity cancelled or lock taken over): nothing may be acked. */
  | { kind: 'lockLost'; error: LockLostError }
  /** Shutdown's grace period ended first. */
  | { kind: 'givenUp' };

export interface AttemptOptions {
  provider: Provider;
  definition: ActivityDefinition;
  item: WorkItem;
  input: Json;
  lockMs: number;
  logger: Logger;
  giveUp: AbortSignal;
  /**
   * The lock is kept alive by the caller (a batch's elements share their work item's lock): this
   * attempt starts no renewal of its own and ends as lockLost when `lost` aborts.
   */
  sharedLock?: { lost: AbortSignal };
}

export async function runActivityAttempt({ provider, definition, item, input, lockMs, logger, giveUp, sharedLock }: AttemptOptions): Promise<AttemptResult> {
  // The activity's signal is made when it is first read (most activities never read it, and an
  // AbortSignal costs ~5 us): aborted at once if the attempt was interrupted before.
  let controller: AbortController | undefined;
  let interruption: { reason: unknown } | undefined;
  const signal = (): AbortSignal => {
    if (controller === undefined) {
      controller = new AbortController();
      if (interruption) controller.abort(interruption.reason);
    }
    return controller.signal;
  };
  let interrupt!: (result: AttemptResult, reason: unknown) => void;
  const interrupted = new Promise<AttemptResult>((resolve) => {
    interrupt = (result, reason) => {
      if (interruption) return;
      interruption = { reason };
      controller?.abort(reason);
      resolve(result);
    };
  });
  const lockLost = (error: LockLostError) => interrupt({ kind: 'lockLost', error }, error);
  const failWith = (error: Error) => interrupt({ kind: 'failed', error }, error);

  const renewal = sharedLock
    ? { stop: whenAborted(sharedLock.lost, () => lockLost(sharedLock.lost.reason as LockLostError)) }
    : startLockRenewal({ renew: () => provider.renewWorkItemLock(item.lockToken, lockMs), lockMs, logger, onLost: lockLost });
  const timeout = definition.timeoutMs === undefined ? undefined
    : setTimeout(() => failWith(new ActivityTimeoutError(definition.name, 'timeout', definition.timeoutMs!)), definition.timeoutMs);
  let heartbeatWatchdog: NodeJS.Timeout | undefined;
  const armHeartbeatWatchdog = () => {
    if (definition.heartbeatMs === undefined) return;
    clearTimeout(heartbeatWatchdog);
    heartbeatWatchdog = setTimeout(() => failWith(new ActivityTimeoutError(definition.name, 'heartbeat', definition.heartbeatMs!)), definition.heartbeatMs);
  };
  armHeartbeatWatchdog();
  const stopListening = whenAborted(giveUp, () => interrupt({ kind: 'givenUp' }, new RuntimeShutdownError()));

  const ctx = {
    instanceId: item.instanceId,
    executionId: item.executionId,
    activityId: item.activityId,
    attempt: item.attempt,
    get signal() {
      return signal();
    },
    logger,
    async heartbeat() {
      try {
        await provider.renewWorkItemLock(item.lockToken, lockMs);
        armHeartbeatWatchdog();
      } catch (err) {
        if (err instanceof LockLostError) lockLost(err);
        throw err;
      }
    },
  };

  const run = (async (): Promise<AttemptResult> => {
    try {
      return { kind: 'succeeded', output: await definition.fn(input, ctx) };
    } catch (error) {
      return { kind: 'failed', error };
    }
  })();

  try {
    return await Promise.race([run, interrupted]);
  } finally {
    renewal.stop();
    clearTimeout(timeout);
    clearTimeout(heartbeatWatchdog);
    stopListening();
  }
}

/** An output JSON cannot carry (or too large) makes the attempt a failed one, like a thrown error. */
export function checkOutput(result: AttemptResult, name: string, maxPayloadBytes: number): AttemptResult {
  if (result.kind !== 'succeeded') return result;
  const output = result.output === undefined ? null : result.output; // a function returning nothing yields null
  try {
    assertJsonSafe(output, `output of activity '${name}'`, maxPayloadBytes);
    return { kind: 'succeeded', output };
  } catch (error) {
    return { kind: 'failed', error };
  }
}
