import type { Logger } from 'pino';
import type { Json } from '../../providers/types.js';
import { InvalidDefinitionError } from '../errors.js';
import { resolveRetryPolicy, type RetryPolicy } from './retry-policy.js';

/** What an activity function receives besides its input (filled in by the worker dispatcher). */
export interface ActivityContext {
  instanceId: string;
  executionId: number;
  /** The durable activity id (unique per scheduling within the execution). */
  activityId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the activity is cancelled, times out, or the worker loses its lock. */
  signal: AbortSignal;
  /** Extends the work item's lock; rejects when the activity was cancelled or lost. */
  heartbeat(): Promise<void>;
  logger: Logger;
}

export interface ActivityOptions {
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  heartbeatMs?: number;
}

export interface ActivityDefinition<I extends Json = Json, O extends Json = Json> {
  readonly kind: 'activity';
  readonly name: string;
  /** Method syntax on purpose: a typed activity stays assignable to ActivityDefinition<Json, Json> (e.g. in createRuntime's list). */
  fn(input: I, ctx: ActivityContext): Promise<O>;
  readonly retry: RetryPolicy;
  readonly timeoutMs?: number;
  readonly heartbeatMs?: number;
}

export function defineActivity<I extends Json, O extends Json>(
  name: string,
  fn: (input: I, ctx: ActivityContext) => Promise<O>,
  opts: ActivityOptions = {},
): ActivityDefinition<I, O> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidDefinitionError('an activity needs a non-empty name', { name });
  if (typeof fn !== 'function') throw new InvalidDefinitionError(`activity '${name}' needs a function`, { name });
  const retry = resolveRetryPolicy(opts.retry);
  if (!(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    throw new InvalidDefinitionError(`activity '${name}': retry.maxAttempts must be an integer >= 1`, { name, maxAttempts: retry.maxAttempts });
  }
  return Object.freeze({
    kind: 'activity' as const,
    name,
    fn,
    retry,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
  });
}
