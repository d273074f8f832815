/**
 * Waiting and retrying around transient provider failures (RetryableProviderError): a lost
 * connection or a serialization failure usually clears within milliseconds to seconds, so the
 * dispatchers retry with jittered exponential backoff instead of giving up the item.
 */
import type { Logger } from 'pino';
import { RetryableProviderError } from '../../providers/errors.js';

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
}

/**
 * Delay before retry number `failures` (1-based): exponential, capped, with "equal jitter"
 * (half fixed, half random) so that many dispatchers hit by the same outage do not retry in step.
 */
export function backoffMs(failures: number, { baseMs = 50, maxMs = 5_000 }: BackoffOptions = {}, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects: callers check the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RetryOptions extends BackoffOptions {
  /** What is being retried, for the log. */
  what: string;
  logger: Logger;
  /** Tries in total, the first included. */
  maxTries?: number;
  /** Stop retrying (rethrow the last error) once aborted. */
  signal?: AbortSignal;
}

/** Call `fn`, retrying it while it fails with RetryableProviderError; any other error is rethrown at once. */
export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxTries = opts.maxTries ?? 8;
  for (let tries = 1; ; tries++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RetryableProviderError) || tries >= maxTries || opts.signal?.aborted) throw err;
      const delayMs = backoffMs(tries, opts);
      opts.logger.warn({ err, tries, delayMs }, `${opts.what} failed transiently; retrying`);
      await sleep(delayMs, opts.signal);
    }
  }
}
