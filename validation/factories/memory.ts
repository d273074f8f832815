/** The built-in memory provider as a validation factory: a fresh store and ManualClock per case. */
import { ManualClock } from '../../providers/clock.js';
import { MemoryProvider } from '../../providers/memory/index.js';
import type { ProviderFactory } from '../factory.js';

export function memoryFactory(): ProviderFactory {
  return async () => {
    const clock = new ManualClock();
    const provider = new MemoryProvider({ clock });
    return { provider, clock, close: () => provider.close() };
  };
}
