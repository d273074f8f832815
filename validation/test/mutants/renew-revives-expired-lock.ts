/** Mutant: renewing an expired (not yet taken over) lock succeeds and extends it from now. */
import { TimeBendingMemory } from './time-bending-memory.js';

export class RenewRevivesExpiredLock extends TimeBendingMemory {
  override renewOrchestrationLock(lockToken: string, lockMs: number): Promise<number> {
    const expired = this.expiredAt(lockToken);
    if (expired === undefined) return super.renewOrchestrationLock(lockToken, lockMs);
    // Judged just before expiry, and lengthened so the new deadline is the honest now + lockMs.
    const then = expired - 1;
    return this.atTime(then, () => super.renewOrchestrationLock(lockToken, lockMs + this.realClock.now() - then));
  }
}
