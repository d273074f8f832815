/**
 * The live machines of instances this process ran lately (Temporal calls it the sticky cache): a
 * committed turn leaves its machine here, and the instance's next turn, if this process fetches it,
 * continues it instead of restoring the stored snapshot. The engine checks that the record stores
 * exactly what that turn committed, so a machine another process has moved on from is never used.
 *
 * Least recently stored entries go first once `capacity` is reached. A turn takes its entry out
 * before it runs (the engine changes the machine it continues in place), and only a committed turn
 * puts one back: a turn that fails or loses its lock leaves nothing behind.
 */
import type { ResumableMachine } from '../engine/api.js';

export class MachineCache {
  private readonly entries = new Map<string, ResumableMachine>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The instance's entry, removed from the cache. */
  take(instanceId: string): ResumableMachine | undefined {
    const entry = this.entries.get(instanceId);
    if (entry !== undefined) this.entries.delete(instanceId);
    return entry;
  }

  put(instanceId: string, entry: ResumableMachine): void {
    if (this.capacity === 0) return;
    this.entries.delete(instanceId);
    this.entries.set(instanceId, entry);
    // Maps iterate in insertion order: the first key is the least recently stored.
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
