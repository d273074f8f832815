/** Mutant: an ack also deletes the instance's messages that arrived after its fetch. */
import type { AckOptions, OrchestrationDelta, WorkItem } from '../../../providers/contract.js';
import { TimeBendingMemory } from './time-bending-memory.js';

/** The two private maps of the reference this mutant needs (see the class comment). */
interface ReferenceInternals {
  locks: Map<string, { instanceId: string; token: string; messageIds: Set<string> }>;
  messages: Map<string, { id: string; instanceId: string }>;
}

export class AckDeletesLaterMessages extends TimeBendingMemory {
  override ackOrchestrationItem(lockToken: string, delta: OrchestrationDelta, opts?: AckOptions): Promise<WorkItem[] | void> {
    // The one mutant that reaches into the reference's private state: no public call makes an ack
    // consume more than its fetch locked. It adds every queued message of the instance to the lock.
    const internals = this as unknown as ReferenceInternals;
    const lock = [...internals.locks.values()].find((l) => l.token === lockToken);
    if (lock) {
      for (const m of internals.messages.values()) if (m.instanceId === lock.instanceId) lock.messageIds.add(m.id);
    }
    return super.ackOrchestrationItem(lockToken, delta, opts);
  }
}
