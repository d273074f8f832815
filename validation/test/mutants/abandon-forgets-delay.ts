/** Mutant: abandon ignores delayMs, so abandoned messages are visible again at once. */
import type { AbandonOptions } from '../../../providers/contract.js';
import { TimeBendingMemory } from './time-bending-memory.js';

export class AbandonForgetsDelay extends TimeBendingMemory {
  override abandonOrchestrationItem(lockToken: string, opts?: AbandonOptions): Promise<void> {
    return super.abandonOrchestrationItem(lockToken, { ...opts, delayMs: 0 });
  }
}
