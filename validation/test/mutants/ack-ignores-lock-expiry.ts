/** Mutant: an ack is accepted after its lock expired, as long as nobody took the instance over yet. */
import type { AckOptions, OrchestrationDelta, WorkItem } from '../../../providers/contract.js';
import { TimeBendingMemory } from './time-bending-memory.js';

export class AckIgnoresLockExpiry extends TimeBendingMemory {
  override ackOrchestrationItem(lockToken: string, delta: OrchestrationDelta, opts?: AckOptions): Promise<WorkItem[] | void> {
    const expired = this.expiredAt(lockToken);
    if (expired === undefined) return super.ackOrchestrationItem(lockToken, delta, opts);
    return this.atTime(expired - 1, () => super.ackOrchestrationItem(lockToken, delta, opts));
  }
}
