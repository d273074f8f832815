/** Mutant: fetches do not count attempts: every delivery reports attempt 1. */
import type { FetchOptions, OrchestrationItem } from '../../../providers/contract.js';
import { TimeBendingMemory } from './time-bending-memory.js';

export class AttemptNotIncremented extends TimeBendingMemory {
  override async fetchOrchestrationItems(opts: FetchOptions): Promise<OrchestrationItem[]> {
    const items = await super.fetchOrchestrationItems(opts);
    return items.map((item) => ({ ...item, attempt: 1, messages: item.messages.map((m) => ({ ...m, attempt: 1 })) }));
  }
}
