/** Wait, woken by the provider's change notifications (no polling loop), until an instance's record satisfies a predicate. */
import type { InstanceRecord, Provider } from '../../../providers/contract.js';

export function waitUntil(provider: Provider, instanceId: string, predicate: (record: InstanceRecord) => boolean, timeoutMs = 20_000): Promise<InstanceRecord> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unwatch();
      settle();
    };
    const check = () =>
      provider.getInstance(instanceId).then(
        (record) => record && predicate(record) && finish(() => resolve(record)),
        (err) => finish(() => reject(err)),
      );
    const timer = setTimeout(() => finish(() => reject(new Error(`waitUntil: ${instanceId} did not reach the state within ${timeoutMs} ms`))), timeoutMs);
    const unwatch = provider.watchInstance(instanceId, () => void check());
    void check();
  });
}
