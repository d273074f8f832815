/**
 * Mutant: a fetch hands out all visible messages but only the first is locked to the item, so its
 * ack consumes only that one and the others stay queued (to be processed a second time).
 * Emulated through the public API: the unlocked ones are quietly added to the ack's keep list.
 */
import type { AckOptions, FetchOptions, OrchestrationDelta, OrchestrationItem, WorkItem } from '../../../providers/contract.js';
import { TimeBendingMemory } from './time-bending-memory.js';

export class FetchLocksFirstMessageOnly extends TimeBendingMemory {
  private readonly unlocked = new Map<string, string[]>();

  override async fetchOrchestrationItems(opts: FetchOptions): Promise<OrchestrationItem[]> {
    const items = await super.fetchOrchestrationItems(opts);
    for (const item of items) this.unlocked.set(item.lockToken, item.messages.slice(1).map((m) => m.id));
    return items;
  }

  override ackOrchestrationItem(lockToken: string, delta: OrchestrationDelta, opts?: AckOptions): Promise<WorkItem[] | void> {
    const extra = (this.unlocked.get(lockToken) ?? []).filter((id) => !delta.keepMessageIds.includes(id) && !delta.deadLetterMessageIds.includes(id));
    return super.ackOrchestrationItem(lockToken, { ...delta, keepMessageIds: [...delta.keepMessageIds, ...extra] }, opts);
  }
}
