/**
 * Wait until an instance reaches a terminal status. Woken by the provider's change notifications
 * (LISTEN/NOTIFY for Postgres), not by polling; one slow fallback re-read covers a missed
 * notification (e.g. a pooler that drops LISTEN) without costing anything in the normal case.
 */
import type { Provider } from '../../providers/contract.js';
import { InstanceNotFoundError } from '../../providers/errors.js';
import type { InstanceStatusView } from './instance-status.js';
import { WaitTimeoutError } from './errors.js';

const FALLBACK_REREAD_MS = 10_000;

export function waitForTerminalStatus<TOutput, TContext>(
  provider: Provider,
  instanceId: string,
  readStatus: () => Promise<InstanceStatusView<TOutput, TContext> | null>,
  timeoutMs: number,
): Promise<InstanceStatusView<TOutput, TContext>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let reading = false;
    let readAgain = false;

    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      unwatch();
      clearInterval(fallback);
      clearTimeout(timer);
      settle();
    };

    // Reads are serialised; a notification that arrives during a read triggers one more read.
    const check = async () => {
      if (reading) {
        readAgain = true;
        return;
      }
      reading = true;
      try {
        do {
          readAgain = false;
          const status = await readStatus();
          if (status === null) return finish(() => reject(new InstanceNotFoundError(instanceId)));
          if (status.status === 'completed' || status.status === 'failed' || status.status === 'terminated') {
            return finish(() => resolve(status));
          }
        } while (readAgain && !settled);
      } catch (err) {
        finish(() => reject(err));
      } finally {
        reading = false;
      }
    };

    // Watch before the first read, so a change between the read and the watch is not missed.
    const unwatch = provider.watchInstance(instanceId, () => void check());
    const fallback = setInterval(() => void check(), FALLBACK_REREAD_MS);
    const timer = setTimeout(() => finish(() => reject(new WaitTimeoutError(instanceId, timeoutMs))), timeoutMs);
    void check();
  });
}
