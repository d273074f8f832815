/**
 * Wait until an instance reaches a terminal status. Woken by the provider's change notifications
 * (LISTEN/NOTIFY for Postgres), not by polling; one slow fallback re-read covers a missed
 * notification (e.g. a pooler that drops LISTEN) without costing anything in the normal case.
 */
import type { Provider } from '../../providers/contract.js';
import { InstanceNotFoundError } from '../../providers/errors.js';
import { isTerminal } from '../../providers/types.js';
import { coalescedReads } from './coalesced-reads.js';
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

    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      unwatch();
      clearInterval(fallback);
      clearTimeout(timer);
      settle();
    };

    const check = coalescedReads(async () => {
      const status = await readStatus();
      if (status === null) finish(() => reject(new InstanceNotFoundError(instanceId)));
      else if (status.status !== 'pending' && isTerminal(status.status)) finish(() => resolve(status));
    }, { stopped: () => settled, onError: (err) => finish(() => reject(err)) });

    // Watch before the first read, so a change between the read and the watch is not missed.
    const unwatch = provider.watchInstance(instanceId, check);
    const fallback = setInterval(check, FALLBACK_REREAD_MS);
    const timer = setTimeout(() => finish(() => reject(new WaitTimeoutError(instanceId, timeoutMs))), timeoutMs);
    check();
  });
}
