/**
 * The base of the mutants: a MemoryProvider whose clock a subclass can pin for one call, so that
 * a mutant can make the reference judge a lock "as of" an earlier moment (and so accept an expired
 * one) without touching the reference's private state. It also remembers when each lock it handed
 * out expires, the information those mutants need to decide when to cheat.
 */
import { type Clock, ManualClock } from '../../../providers/clock.js';
import type { FetchOptions, OrchestrationItem, Provider } from '../../../providers/contract.js';
import { MemoryProvider } from '../../../providers/memory/index.js';
import type { ProviderFactory } from '../../factory.js';

class PinnableClock implements Clock {
  pinned: number | undefined;
  constructor(private readonly real: Clock) {}
  now(): number {
    return this.pinned ?? this.real.now();
  }
}

export class TimeBendingMemory extends MemoryProvider {
  private readonly view: PinnableClock;
  /** lockToken -> lockedUntil, as last handed out by a fetch or a renew. */
  protected readonly lockedUntil = new Map<string, number>();

  constructor(protected readonly realClock: ManualClock) {
    const view = new PinnableClock(realClock);
    super({ clock: view });
    this.view = view;
  }

  /**
   * Run `call` with the provider's clock reading `time`. The reference does all of a call's work
   * synchronously before its promise settles, so unpinning right after the call starts is enough.
   */
  protected atTime<T>(time: number, call: () => Promise<T>): Promise<T> {
    this.view.pinned = time;
    try {
      return call();
    } finally {
      this.view.pinned = undefined;
    }
  }

  /** When the lock of `token` expired, if it has (undefined while valid or unknown). */
  protected expiredAt(token: string): number | undefined {
    const until = this.lockedUntil.get(token);
    return until !== undefined && until <= this.realClock.now() ? until : undefined;
  }

  override async fetchOrchestrationItems(opts: FetchOptions): Promise<OrchestrationItem[]> {
    const items = await super.fetchOrchestrationItems(opts);
    for (const item of items) this.lockedUntil.set(item.lockToken, item.lockedUntil);
    return items;
  }

  override async renewOrchestrationLock(lockToken: string, lockMs: number): Promise<number> {
    const until = await super.renewOrchestrationLock(lockToken, lockMs);
    this.lockedUntil.set(lockToken, until);
    return until;
  }
}

/** A factory like the memory one (fresh provider and ManualClock per call), for a mutant. */
export function mutantFactory(make: (clock: ManualClock) => Provider): ProviderFactory {
  return async () => {
    const clock = new ManualClock();
    const provider = make(clock);
    return { provider, clock, close: () => provider.close() };
  };
}
