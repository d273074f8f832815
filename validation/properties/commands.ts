/**
 * The commands of the model-based property tests. Each runs one contract operation on the provider
 * under test and on the reference in lockstep, checks the outcome against the bookkeeping model
 * (QueueModel), then updates the model.
 *
 * Times: every clock step is a multiple of 1000 ms and every lock or delay ends at x500 ms, so a
 * deadline never falls exactly on "now" and the contract's open question (is a lock that ends now
 * still held?) never decides a run.
 */
import fc from 'fast-check';
import type { OrchestrationDelta } from '../../providers/contract.js';
import { InvalidArgumentError, LockLostError } from '../../providers/errors.js';
import { historyEvents, sampleDelta } from '../conformance/helpers.js';
import { canonicalJson, errorName, LockstepMismatch, messageK, type Lockstep, type Outcome, type Side } from './lockstep.js';
import { type Holding, type Invariant, PropertyViolation, type QueueModel } from './model.js';

export type Cmd = fc.AsyncCommand<QueueModel, Lockstep>;

export const LOCK_MS = [10_500, 20_500] as const;
export const DELAYS_MS = [2_500, 15_500] as const;
export const STEPS_MS = [1_000, 5_000, 12_000, 30_000] as const;

type ExpectedError = typeof LockLostError | typeof InvalidArgumentError | null;

/** The contract fixes how these calls end; a provider that ends otherwise breaks `invariant`, whatever the property. */
function requireOutcome(invariant: Invariant, label: string, outcome: Outcome<unknown>, expected: ExpectedError): void {
  const ok = expected === null ? outcome.ok : !outcome.ok && outcome.error instanceof expected;
  if (!ok) {
    const got = outcome.ok ? 'success' : `${errorName(outcome.error)}: ${(outcome.error as Error)?.message}`;
    throw new PropertyViolation(invariant, `${label} should end with ${expected?.name ?? 'success'}, got ${got}`);
  }
}

function token(h: Holding, side: Side): string {
  return side === 'put' ? h.putToken : h.refToken;
}

const total = (q: { visible: number; delayed: number; locked: number }) => q.visible + q.delayed + q.locked;

/** After every command: depths agree with the reference, and nothing was lost or duplicated. */
async function checkDepths(m: QueueModel, r: Lockstep): Promise<void> {
  const both = await r.depths();
  const d = both.put;
  m.expect('no-loss', total(d.orchestrator) === m.queuedCount(), () => `orchestrator queue holds ${total(d.orchestrator)} messages; ${m.queuedCount()} were enqueued and not consumed`);
  m.expect('no-loss', total(d.worker) === m.workItems, () => `worker queue holds ${total(d.worker)} items; ${m.workItems} were enqueued and not consumed`);
  r.assertSameDepths(both);
}

/** What a failed or refused call must leave as it was. */
async function observe(r: Lockstep, instanceId: string): Promise<string> {
  const instance = await r.put.getInstance(instanceId);
  return canonicalJson({ depths: await r.put.queueDepths(), historyLength: instance?.historyLength ?? null, turns: instance?.turns ?? null });
}

/** Renew on both sides to learn whether `h` still holds its lock; keeps the model in step. */
async function probeLock(r: Lockstep, h: Holding, invariant: Invariant, shouldHold: boolean, why: string): Promise<void> {
  const lockMs = LOCK_MS[0];
  const out = await r.both((p, side) => p.renewOrchestrationLock(token(h, side), lockMs));
  requireOutcome(invariant, `renew after ${why}`, out.put, shouldHold ? null : LockLostError);
  r.assertSameOutcome('renewOrchestrationLock (probe)', out);
  if (out.put.ok) h.lockedUntil = out.put.value;
}

export class EnqueueCmd implements Cmd {
  constructor(readonly instance: number, readonly delayMs: number) {}
  check(): boolean {
    return true;
  }
  async run(m: QueueModel, r: Lockstep): Promise<void> {
    const instanceId = m.instanceIds[this.instance]!;
    const k = m.messages.length;
    const visibleAt = m.now + this.delayMs;
    const out = await r.both((p) =>
      p.enqueueOrchestratorMessage({ instanceId, kind: 'event', payload: { type: 'E', k } }, this.delayMs ? { visibleAt } : undefined));
    requireOutcome('no-loss', 'enqueue', out.put, null);
    r.assertSameOutcome('enqueueOrchestratorMessage', out);
    m.addMessage(instanceId, visibleAt);
    await checkDepths(m, r);
  }
  toString(): string {
    return `enqueue(i${this.instance}${this.delayMs ? `, +${this.delayMs}ms` : ''})`;
  }
}

export class FetchCmd implements Cmd {
  constructor(readonly dispatcher: number, readonly lockMs: number, readonly max: number) {}
  check(): boolean {
    return true;
  }
  async run(m: QueueModel, r: Lockstep): Promise<void> {
    const d = this.dispatcher;
    const candidates = m.candidates();
    const opts = { lockMs: this.lockMs, max: this.max, owner: `dispatcher-${d}` };
    const fetched = await r.fetch(opts);
    m.expect('takeover', fetched.put.length === Math.min(this.max, candidates.length),
      () => `fetch(max ${this.max}) returned ${fetched.put.length} items while ${candidates.length} instances had visible messages and a free or expired lock`);
    const seen = new Set<string>();
    for (const put of fetched.put) {
      const id = put.instanceId;
      if (!m.instanceIds.includes(id)) throw new PropertyViolation('one-holder', `fetch returned instance ${id}, which this run never used`);
      const holder = m.validHolder(id);
      m.expect('one-holder', !holder, () => `instance ${id} handed to dispatcher ${d} while dispatcher ${holder!.dispatcher} holds it until ${holder!.lockedUntil} (now ${m.now})`);
      m.expect('one-holder', !seen.has(id), () => `instance ${id} handed out twice by one fetch`);
      m.expect('one-holder', put.lockedUntil === m.now + this.lockMs, () => `lockedUntil is ${put.lockedUntil}, expected now + lockMs = ${m.now + this.lockMs}`);
      const ks = put.messages.map((msg) => messageK(msg.payload));
      for (const k of ks) {
        const rec = m.messages[k];
        m.expect('no-loss', rec !== undefined && !rec.consumed, () => `message #${k} delivered again after an ack consumed it`);
        m.expect('no-loss', rec !== undefined && !m.isLocked(rec), () => `message #${k} delivered while dispatcher ${rec!.holder!.dispatcher} holds it under a valid lock`);
      }
      const expected = m.visibleOf(id).map((x) => x.k);
      m.expect('order', JSON.stringify(ks) === JSON.stringify(expected),
        () => `instance ${id} delivered messages #[${ks}]; its visible messages, oldest first, are #[${expected}]`);
      for (const msg of put.messages) {
        const rec = m.messages[messageK(msg.payload)]!;
        m.expect('attempts', msg.attempt === rec.attempt + 1, () => `message #${rec.k} has attempt ${msg.attempt}, expected ${rec.attempt + 1}`);
      }
      const maxAttempt = Math.max(...put.messages.map((msg) => msg.attempt));
      m.expect('attempts', put.attempt === maxAttempt, () => `item attempt is ${put.attempt}, the highest message attempt is ${maxAttempt}`);
      seen.add(id);
    }
    // Only now the reference: a broken invariant is reported as such, not as a mere disagreement.
    r.assertSameItems(`fetch(${JSON.stringify(opts)})`, fetched.put, fetched.ref);
    for (const [i, put] of fetched.put.entries()) {
      const ref = fetched.ref[i]!;
      const ks = put.messages.map((msg) => messageK(msg.payload));
      const holding: Holding = {
        dispatcher: d, instanceId: put.instanceId, putToken: put.lockToken, refToken: ref.lockToken, ks, lockedUntil: put.lockedUntil, released: false,
        putIds: new Map(put.messages.map((msg) => [messageK(msg.payload), msg.id])),
        refIds: new Map(ref.messages.map((msg) => [messageK(msg.payload), msg.id])),
      };
      for (const k of ks) {
        const rec = m.messages[k]!;
        rec.attempt += 1;
        rec.holder = holding;
      }
      m.holdings[d]!.push(holding);
    }
    await checkDepths(m, r);
  }
  toString(): string {
    return `fetch(d${this.dispatcher}, lock ${this.lockMs}ms, max ${this.max})`;
  }
}

export const ACK_VARIANTS = ['consume', 'keep', 'message', 'workItem', 'history', 'duplicateSeq'] as const;
export type AckVariant = (typeof ACK_VARIANTS)[number];

export class AckCmd implements Cmd {
  constructor(readonly dispatcher: number, readonly pick: number, readonly variant: AckVariant, readonly target: number) {}
  check(m: Readonly<QueueModel>): boolean {
    return m.holding(this.dispatcher, this.pick) !== undefined;
  }
  async run(m: QueueModel, r: Lockstep): Promise<void> {
    const h = m.holding(this.dispatcher, this.pick)!;
    const valid = m.isValid(h);
    // With a lost lock AND a bad delta either error is a fair answer (the contract does not order
    // the two checks), so a lost lock always gets a well-formed delta.
    const variant = this.variant === 'duplicateSeq' && !valid ? 'history' : this.variant;
    const length = m.historyLength.get(h.instanceId) ?? 0;
    const keepKs = variant === 'keep' ? h.ks.slice(Math.floor(h.ks.length / 2)) : [];
    const history = variant === 'history' ? historyEvents(1, length, 2)
      : variant === 'duplicateSeq' ? (length > 0 ? historyEvents(1, length - 1, 1) : [...historyEvents(1, 0, 1), ...historyEvents(1, 0, 1)])
      : [];
    const newK = m.messages.length;
    const target = m.instanceIds[this.target]!;
    const activityId = `a${m.nextActivity}`;
    const delta = (side: Side): OrchestrationDelta => sampleDelta({
      history,
      messages: variant === 'message' ? [{ instanceId: target, kind: 'event', payload: { type: 'E', k: newK } }] : [],
      workItems: variant === 'workItem' ? [{ instanceId: h.instanceId, executionId: 1, activityId, name: 'property-activity', payload: {} }] : [],
      keepMessageIds: keepKs.map((k) => (side === 'put' ? h.putIds : h.refIds).get(k)!),
    });

    const before = await observe(r, h.instanceId);
    const out = await r.both((p, side) => p.ackOrchestrationItem(token(h, side), delta(side)));
    const { put } = out;
    const expected: ExpectedError = !valid ? LockLostError : variant === 'duplicateSeq' ? InvalidArgumentError : null;
    requireOutcome(valid ? 'ack-atomic' : 'takeover', `ack (${variant}) with a ${valid ? 'valid' : 'lost'} lock`, put, expected);
    r.assertSameOutcome('ackOrchestrationItem', out);

    if (!put.ok) {
      const after = await observe(r, h.instanceId);
      m.expect(valid ? 'ack-atomic' : 'takeover', after === before, () => `a rejected ack changed storage:\n  before: ${before}\n  after:  ${after}`);
      if (valid) await probeLock(r, h, 'ack-atomic', true, 'a rejected ack');
    } else {
      for (const k of h.ks) {
        const rec = m.messages[k]!;
        rec.holder = null;
        rec.consumed = !keepKs.includes(k);
      }
      h.released = true;
      m.historyLength.set(h.instanceId, length + history.length);
      if (variant === 'message') m.addMessage(target, m.now);
      if (variant === 'workItem') {
        m.workItems += 1;
        m.nextActivity += 1;
      }
      const instance = await r.put.getInstance(h.instanceId);
      m.expect('ack-atomic', instance?.historyLength === length + history.length,
        () => `after an ack appending ${history.length} events to ${length}, the instance has historyLength ${instance?.historyLength}`);
      await probeLock(r, h, 'ack-atomic', false, 'a successful ack');
    }
    await checkDepths(m, r);
  }
  toString(): string {
    return `ack(d${this.dispatcher}#${this.pick}, ${this.variant}${this.variant === 'message' ? ` -> i${this.target}` : ''})`;
  }
}

export class AbandonCmd implements Cmd {
  constructor(readonly dispatcher: number, readonly pick: number, readonly delayMs: number, readonly countAttempt: boolean) {}
  check(m: Readonly<QueueModel>): boolean {
    return m.holding(this.dispatcher, this.pick) !== undefined;
  }
  async run(m: QueueModel, r: Lockstep): Promise<void> {
    const h = m.holding(this.dispatcher, this.pick)!;
    const valid = m.isValid(h);
    const before = await observe(r, h.instanceId);
    const out = await r.both((p, side) => p.abandonOrchestrationItem(token(h, side), { delayMs: this.delayMs, countAttempt: this.countAttempt }));
    requireOutcome('takeover', `abandon with a ${valid ? 'valid' : 'lost'} lock`, out.put, valid ? null : LockLostError);
    r.assertSameOutcome('abandonOrchestrationItem', out);
    if (out.put.ok) {
      for (const k of h.ks) {
        const rec = m.messages[k]!;
        rec.holder = null; // its visibleAt stays: it keeps its place ahead of messages that arrived later
        if (!this.countAttempt) rec.attempt -= 1;
      }
      h.released = true;
      m.heldBackUntil.set(h.instanceId, m.now + this.delayMs);
    } else {
      const after = await observe(r, h.instanceId);
      m.expect('takeover', after === before, () => `an abandon with a lost lock changed storage:\n  before: ${before}\n  after:  ${after}`);
    }
    await checkDepths(m, r);
  }
  toString(): string {
    return `abandon(d${this.dispatcher}#${this.pick}${this.delayMs ? `, +${this.delayMs}ms` : ''}${this.countAttempt ? '' : ', uncounted'})`;
  }
}

export class RenewCmd implements Cmd {
  constructor(readonly dispatcher: number, readonly pick: number, readonly lockMs: number) {}
  check(m: Readonly<QueueModel>): boolean {
    return m.holding(this.dispatcher, this.pick) !== undefined;
  }
  async run(m: QueueModel, r: Lockstep): Promise<void> {
    const h = m.holding(this.dispatcher, this.pick)!;
    const valid = m.isValid(h);
    const out = await r.both((p, side) => p.renewOrchestrationLock(token(h, side), this.lockMs));
    const { put, ref } = out;
    requireOutcome('takeover', `renew of a ${valid ? 'valid' : 'lost'} lock`, put, valid ? null : LockLostError);
    r.assertSameOutcome('renewOrchestrationLock', out);
    if (put.ok && ref.ok) {
      if (put.value !== ref.value) throw new LockstepMismatch(`renew returned ${put.value}, reference ${ref.value}`);
      m.expect('one-holder', put.value === m.now + this.lockMs, () => `renew returned ${put.value}, expected now + lockMs = ${m.now + this.lockMs}`);
      h.lockedUntil = put.value;
    }
    await checkDepths(m, r);
  }
  toString(): string {
    return `renew(d${this.dispatcher}#${this.pick}, ${this.lockMs}ms)`;
  }
}

export class AdvanceCmd implements Cmd {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(m: QueueModel, r: Lockstep): Promise<void> {
    r.advance(this.ms);
    m.now += this.ms;
  }
  toString(): string {
    return `advance(${this.ms}ms)`;
  }
}

/** Shape of a run: how many instances and dispatchers, and how often each command appears. */
export interface CommandMix {
  instances: number;
  dispatchers: number;
  weights: { enqueue: number; fetch: number; ack: number; abandon: number; renew: number; advance: number };
  ackVariants: readonly AckVariant[];
}

export function commandArbitraries(mix: CommandMix): Array<fc.Arbitrary<Cmd>> {
  const instance = fc.nat(mix.instances - 1);
  const dispatcher = fc.nat(mix.dispatchers - 1);
  const pick = fc.nat(7);
  const lockMs = fc.constantFrom(...LOCK_MS);
  const arbs: Record<keyof CommandMix['weights'], fc.Arbitrary<Cmd>> = {
    enqueue: fc.tuple(instance, fc.constantFrom(0, 0, ...DELAYS_MS)).map(([i, delay]) => new EnqueueCmd(i, delay)),
    fetch: fc.tuple(dispatcher, lockMs, fc.constantFrom(1, 1, 2)).map(([d, l, max]) => new FetchCmd(d, l, max)),
    ack: fc.tuple(dispatcher, pick, fc.constantFrom(...mix.ackVariants), instance).map(([d, p, v, t]) => new AckCmd(d, p, v, t)),
    abandon: fc.tuple(dispatcher, pick, fc.constantFrom(0, ...DELAYS_MS), fc.boolean()).map(([d, p, delay, c]) => new AbandonCmd(d, p, delay, c)),
    renew: fc.tuple(dispatcher, pick, lockMs).map(([d, p, l]) => new RenewCmd(d, p, l)),
    advance: fc.constantFrom(...STEPS_MS).map((ms) => new AdvanceCmd(ms)),
  };
  // fc.commands picks uniformly among its arbitraries: repeating one is how it gets a weight.
  return (Object.keys(arbs) as Array<keyof typeof arbs>).flatMap((name) => Array<fc.Arbitrary<Cmd>>(mix.weights[name]).fill(arbs[name]));
}
