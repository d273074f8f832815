/**
 * A provider wrapper that timestamps the turn of each instance: when its fetch returned (the turn
 * started) and when its ack resolved (the turn committed). Handed to the runtime in place of the
 * provider, it sees the turn boundaries exactly, with sub-millisecond clocks, and changes nothing.
 */
import { performance } from 'node:perf_hooks';
import type { Provider } from '../../runtime/index.js';

export interface TurnMark {
  instanceId: string;
  fetchedAt: number;
  ackedAt: number | null;
}

export function timeTurns(provider: Provider): { provider: Provider; next(instanceId: string): Promise<TurnMark>; acked(instanceId: string): Promise<TurnMark> } {
  const byToken = new Map<string, TurnMark>();
  const fetchWaiters = new Map<string, (m: TurnMark) => void>();
  const ackWaiters = new Map<string, (m: TurnMark) => void>();
  const wrapped = new Proxy(provider, {
    get(target, prop, receiver) {
      if (prop === 'fetchOrchestrationItems') {
        return async (...args: Parameters<Provider['fetchOrchestrationItems']>) => {
          const items = await target.fetchOrchestrationItems(...args);
          const at = performance.now();
          for (const item of items) {
            const mark = { instanceId: item.instanceId, fetchedAt: at, ackedAt: null };
            byToken.set(item.lockToken, mark);
            fetchWaiters.get(item.instanceId)?.(mark);
            fetchWaiters.delete(item.instanceId);
          }
          return items;
        };
      }
      if (prop === 'ackOrchestrationItem') {
        return async (...args: Parameters<Provider['ackOrchestrationItem']>) => {
          const eager = await target.ackOrchestrationItem(...args);
          const mark = byToken.get(args[0]);
          byToken.delete(args[0]);
          if (mark) {
            mark.ackedAt = performance.now();
            ackWaiters.get(mark.instanceId)?.(mark);
            ackWaiters.delete(mark.instanceId);
          }
          return eager;
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    provider: wrapped,
    /** The next turn of the instance to start (register before causing it). */
    next: (instanceId) => new Promise((resolve) => fetchWaiters.set(instanceId, resolve)),
    /** The next turn of the instance to commit. */
    acked: (instanceId) => new Promise((resolve) => ackWaiters.set(instanceId, resolve)),
  };
}
