/**
 * The bookkeeping model of the property tests: what the orchestrator queue must contain and who may
 * hold which lock, derived only from the contract's rules (never from a provider). Each command
 * checks the provider's answers against it, and the memory reference runs beside it in lockstep.
 *
 * Messages are named by `k`, their enqueue number, carried in their payload: provider ids differ
 * between the provider under test and the reference, so `k` is what both sides are compared by.
 */

/** The invariants a property can assert; each property turns on the checks tagged with its own. */
export type Invariant = 'one-holder' | 'takeover' | 'ack-atomic' | 'no-loss' | 'order' | 'attempts';

export interface MessageRecord {
  k: number;
  instanceId: string;
  visibleAt: number;
  /** Deliveries so far, as the contract counts them (a fetch adds one, abandon without countAttempt takes it back). */
  attempt: number;
  consumed: boolean;
  /** The fetch that last locked it; it only locks while that holding is valid. */
  holder: Holding | null;
}

/** One fetched item as seen by one simulated dispatcher, with the token of each side. */
export interface Holding {
  dispatcher: number;
  instanceId: string;
  putToken: string;
  refToken: string;
  /** The fetched messages, in delivery order, and their provider-specific ids. */
  ks: number[];
  putIds: Map<number, string>;
  refIds: Map<number, string>;
  lockedUntil: number;
  released: boolean;
}

export class PropertyViolation extends Error {
  constructor(invariant: Invariant, message: string) {
    super(`[${invariant}] ${message}`);
    this.name = 'PropertyViolation';
  }
}

export class QueueModel {
  readonly messages: MessageRecord[] = [];
  readonly holdings: Holding[][];
  readonly historyLength = new Map<string, number>();
  /** instanceId -> until when its last abandon holds it back (the delay holds the instance, not its messages). */
  readonly heldBackUntil = new Map<string, number>();
  workItems = 0;
  nextActivity = 0;

  constructor(
    /** Instance ids this run uses (unique to the run, so runs sharing one provider never meet). */
    readonly instanceIds: readonly string[],
    dispatchers: number,
    public now: number,
    private readonly checks: ReadonlySet<Invariant>,
  ) {
    this.holdings = Array.from({ length: dispatchers + 1 }, () => []);
  }

  /** Throw a violation of `invariant` when this property asserts it and `ok` is false. */
  expect(invariant: Invariant, ok: boolean, message: () => string): void {
    if (!ok && this.checks.has(invariant)) throw new PropertyViolation(invariant, message());
  }

  isValid(h: Holding): boolean {
    return !h.released && h.lockedUntil > this.now;
  }

  validHolder(instanceId: string): Holding | undefined {
    return this.holdings.flat().find((h) => h.instanceId === instanceId && this.isValid(h));
  }

  isLocked(m: MessageRecord): boolean {
    return m.holder !== null && this.isValid(m.holder);
  }

  /**
   * Queued messages of the instance a fetch must hand out now, oldest first: by the time they
   * became visible, then by enqueue order (the order the reference documents).
   */
  visibleOf(instanceId: string): MessageRecord[] {
    return this.messages
      .filter((m) => m.instanceId === instanceId && !m.consumed && !this.isLocked(m) && m.visibleAt <= this.now)
      .sort((a, b) => a.visibleAt - b.visibleAt || a.k - b.k);
  }

  /** Instances a fetch may lock now: a visible message, a free or expired lock, and no abandon delay left. */
  candidates(): string[] {
    const ids = new Set(this.messages.filter((m) => !m.consumed).map((m) => m.instanceId));
    return [...ids].filter((id) => !this.validHolder(id) && (this.heldBackUntil.get(id) ?? 0) <= this.now && this.visibleOf(id).length > 0);
  }

  queuedCount(): number {
    return this.messages.filter((m) => !m.consumed).length;
  }

  addMessage(instanceId: string, visibleAt: number): MessageRecord {
    const record: MessageRecord = { k: this.messages.length, instanceId, visibleAt, attempt: 0, consumed: false, holder: null };
    this.messages.push(record);
    return record;
  }

  /** The holding a command addresses: its dispatcher's `pick`-th latest fetch (modulo), valid or not. */
  holding(dispatcher: number, pick: number): Holding | undefined {
    const list = this.holdings[dispatcher] ?? [];
    return list.length === 0 ? undefined : list[list.length - 1 - (pick % list.length)];
  }
}
