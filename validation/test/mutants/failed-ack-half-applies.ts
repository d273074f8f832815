/**
 * Mutant: an ack whose history is rejected still commits the rest of the delta (messages consumed,
 * instance written, lock released) and then reports the error.
 */
import type { AckOptions, OrchestrationDelta, WorkItem } from '../../../providers/contract.js';
import { InvalidArgumentError } from '../../../providers/errors.js';
import { TimeBendingMemory } from './time-bending-memory.js';

export class FailedAckHalfApplies extends TimeBendingMemory {
  override async ackOrchestrationItem(lockToken: string, delta: OrchestrationDelta, opts?: AckOptions): Promise<WorkItem[] | void> {
    try {
      return await super.ackOrchestrationItem(lockToken, delta, opts);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      await super.ackOrchestrationItem(lockToken, { ...delta, history: [] });
      throw error;
    }
  }
}
