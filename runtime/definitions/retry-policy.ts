/** How a failing activity is retried: exponential backoff with jitter, capped. */
export interface RetryPolicy {
  /** Attempts in total, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt. */
  initialMs: number;
  /** Multiplier applied per further attempt. */
  backoff: number;
  /** Upper bound of the delay (before jitter). */
  maxMs: number;
  /** Fraction of the delay randomised in both directions (0.2 = ±20%). */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  initialMs: 1000,
  backoff: 2,
  maxMs: 60_000,
  jitter: 0.2,
});

export function resolveRetryPolicy(partial?: Partial<RetryPolicy>): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...partial };
}

/**
 * Delay before the attempt that follows attempt number `attempt` (1-based: attempt 1 failed → the
 * delay before attempt 2). `random` in [0, 1) is passed in so the function stays pure; 0.5 means no jitter.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.backoff, Math.max(0, attempt - 1)));
  const factor = 1 + policy.jitter * (2 * random - 1);
  return Math.max(0, Math.round(base * factor));
}
