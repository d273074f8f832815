/**
 * The provider under test and a fresh memory reference, driven side by side: every operation runs
 * on both, on the same logical clock, and must end the same way (same value shape, or the same
 * error class). Provider-specific ids never cross sides: callers pass a function of the side.
 */
import type { ManualClock } from '../../providers/clock.js';
import type { OrchestrationItem, Provider, QueueDepths } from '../../providers/contract.js';

export type Side = 'put' | 'ref';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class LockstepMismatch extends Error {
  constructor(message: string) {
    super(`provider and reference model disagree: ${message}`);
    this.name = 'LockstepMismatch';
  }
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.constructor.name : typeof error;
}

function describe(outcome: Outcome<unknown>): string {
  if (outcome.ok) return 'success';
  const e = outcome.error;
  return `${errorName(e)}: ${e instanceof Error ? e.message : String(e)}`;
}

async function attempt<T>(op: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await op() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** JSON with object keys sorted: jsonb (and other stores) may hand objects back in another key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : v));
}

/** The message number `k` every property message carries in its payload. */
export function messageK(payload: unknown): number {
  const k = (payload as { k?: unknown } | null)?.k;
  if (typeof k !== 'number') throw new LockstepMismatch(`a fetched message carries no k: ${JSON.stringify(payload)}`);
  return k;
}

export class Lockstep {
  constructor(
    readonly put: Provider,
    readonly putClock: ManualClock,
    readonly ref: Provider,
    readonly refClock: ManualClock,
  ) {}

  advance(ms: number): void {
    this.putClock.advance(ms);
    this.refClock.advance(ms);
  }

  /** Run `op` on both sides; compare the outcomes with `assertSameOutcome` after checking the provider's own. */
  async both<T>(op: (p: Provider, side: Side) => Promise<T>): Promise<{ put: Outcome<T>; ref: Outcome<T> }> {
    return { put: await attempt(() => op(this.put, 'put')), ref: await attempt(() => op(this.ref, 'ref')) };
  }

  /** Both succeeded, or both failed with the same error class. */
  assertSameOutcome(label: string, { put, ref }: { put: Outcome<unknown>; ref: Outcome<unknown> }): void {
    if (put.ok !== ref.ok || (!put.ok && !ref.ok && errorName(put.error) !== errorName(ref.error))) {
      throw new LockstepMismatch(`${label}: provider ${describe(put)}, reference ${describe(ref)}`);
    }
  }

  /** Fetch on both sides; call `assertSameItems` once the caller checked the provider's answer on its own. */
  async fetch(opts: { lockMs: number; max: number; owner: string }): Promise<{ put: OrchestrationItem[]; ref: OrchestrationItem[] }> {
    const { put, ref } = await this.both((p) => p.fetchOrchestrationItems(opts));
    if (!put.ok) throw put.error; // a fetch has no reason to fail here
    if (!ref.ok) throw ref.error;
    return { put: put.value, ref: ref.value };
  }

  /** Everything a caller can observe of two fetch results must match, provider-specific ids aside. */
  assertSameItems(label: string, put: OrchestrationItem[], ref: OrchestrationItem[]): void {
    const view = (items: OrchestrationItem[]) => canonicalJson(items.map((i) => ({
      instanceId: i.instanceId,
      executionId: i.executionId,
      attempt: i.attempt,
      now: i.now,
      lockedUntil: i.lockedUntil,
      historyLength: i.instance?.historyLength ?? 0,
      messages: i.messages.map((m) => ({ k: messageK(m.payload), kind: m.kind, payload: m.payload, attempt: m.attempt })),
    })));
    if (view(put) !== view(ref)) throw new LockstepMismatch(`${label} returned\n  provider:  ${view(put)}\n  reference: ${view(ref)}`);
  }

  /** Queue depths of both sides; compare them with `assertSameDepths`. */
  async depths(): Promise<{ put: QueueDepths; ref: QueueDepths }> {
    return { put: await this.put.queueDepths(), ref: await this.ref.queueDepths() };
  }

  assertSameDepths({ put, ref }: { put: QueueDepths; ref: QueueDepths }): void {
    if (canonicalJson(put) !== canonicalJson(ref)) {
      throw new LockstepMismatch(`queue depths\n  provider:  ${canonicalJson(put)}\n  reference: ${canonicalJson(ref)}`);
    }
  }
}
