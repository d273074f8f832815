/** Mutant: abandon ignores delayMs, so the abandoned instance is fetchable again at once. */
import { abandonArgs } from '../../../providers/arguments.js';
import type { AbandonOptions } from '../../../providers/contract.js';
import { TimeBendingMemory } from './time-bending-memory.js';

export class AbandonForgetsDelay extends TimeBendingMemory {
  override async abandonOrchestrationItem(lockToken: string, opts?: AbandonOptions): Promise<void> {
    abandonArgs(opts); // a bad delay is still refused: only what a valid one does is broken
    return super.abandonOrchestrationItem(lockToken, { ...opts, delayMs: 0 });
  }
}
