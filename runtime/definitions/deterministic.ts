/**
 * Deterministic now() and uuid() for machine code. XState steps are synchronous, so the engine sets
 * a module-level "current step" around each initialTransition()/transition() call; the values depend
 * only on what history records (the logical time of the message and its seq), so replay sees the same.
 */
import { createHash } from 'node:crypto';
import { OutsideTurnError } from '../errors.js';

export interface StepContext {
  instanceId: string;
  executionId: number;
  /** Seq of the history event whose application is running (the 'started' or 'event' entry). */
  seq: number;
  /** Logical time of that event: the fetch's `now`, recorded in history. */
  now: number;
  /**
   * A second step the engine runs while applying the same event (an empty fan-out finishing at once):
   * its uuid()s must differ from the first step's. 0 (or absent) for the event's own step.
   */
  substep?: number;
}

let current: (StepContext & { uuids: number }) | null = null;

/** Run `fn` (one synchronous XState step) with now()/uuid() bound to `ctx`. Not re-entrant by design. */
export function withStepContext<T>(ctx: StepContext, fn: () => T): T {
  const previous = current;
  current = { ...ctx, uuids: 0 };
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/**
 * Run `fn` as if no step were running (now() and uuid() throw inside it): for machine code the
 * engine evaluates but whose results it discards, which must not consume the current step's uuid()s.
 */
export function outsideSteps<T>(fn: () => T): T {
  const previous = current;
  current = null;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** The logical time (epoch ms) of the event being applied. Only inside a machine step. */
export function now(): number {
  if (!current) throw new OutsideTurnError('now');
  return current.now;
}

/** A UUID (version 8, name-based) seeded by instance, execution, event seq and call order within the step. */
export function uuid(): string {
  if (!current) throw new OutsideTurnError('uuid');
  const n = current.uuids++;
  // The substep joins the seed only when there is one, so every uuid of an event's own step stays what it always was.
  const sub = current.substep ? `\u0000${current.substep}` : '';
  const bytes = createHash('sha256').update(`${current.instanceId}\u0000${current.executionId}\u0000${current.seq}\u0000${n}${sub}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8: custom/deterministic
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
