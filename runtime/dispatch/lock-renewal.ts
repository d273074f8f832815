/**
 * Keeps a lock (instance lock or work-item lock) alive while work runs longer than the lock lasts.
 * Renewing at a third of the lock's length leaves two more chances before it expires if one
 * renewal is slow or fails transiently.
 */
import type { Logger } from 'pino';
import { LockLostError } from '../../providers/errors.js';

export interface LockRenewalOptions {
  /** Extend the lock; rejects with LockLostError when the lock is gone (expired and taken, or the item was cancelled). */
  renew: () => Promise<unknown>;
  lockMs: number;
  logger: Logger;
  /** Called once when a renewal finds the lock gone; renewal stops. */
  onLost: (err: LockLostError) => void;
}

export interface LockRenewal {
  stop(): void;
}

export function startLockRenewal({ renew, lockMs, logger, onLost }: LockRenewalOptions): LockRenewal {
  const everyMs = Math.max(1, Math.floor(lockMs / 3));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tick = async () => {
    try {
      await renew();
    } catch (err) {
      if (stopped) return;
      if (err instanceof LockLostError) {
        stopped = true;
        onLost(err);
        return;
      }
      // Transient or unknown: the lock may still be valid; the next tick tries again.
      logger.warn({ err }, 'lock renewal failed; will retry');
    }
    schedule();
  };
  const schedule = () => {
    if (!stopped) timer = setTimeout(() => void tick(), everyMs);
  };

  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
