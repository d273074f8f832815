/**
 * What the engine stores in InstanceRecord.snapshot: the persisted XState snapshot plus the engine's
 * own bookkeeping of the current execution, so a turn needs nothing but the record:
 *
 *   { machine: <machine.getPersistedSnapshot(...), without its context (storedMachine)>,
 *     pending: { activities: { [activityId]: { invokeId, name } },
 *                timers:     { [timerId]: { sendId } },
 *                children:   { [childInstanceId]: { invokeId, name } },
 *                fanOuts?:   { [fanOutId]: { invokeId, settle, remaining, open, results } } },
 *     counter: <last number used for durable ids in this execution> }
 *
 * The machine's context is not in it: the record keeps it in its own field (InstanceRecord.context),
 * and a turn's write, its reply to the dispatcher and every fetch would carry it twice.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { Json } from '../../providers/types.js';
import { assertJsonSafe } from '../../providers/json-safety.js';
import { NondeterminismError } from '../errors.js';
import { withElementEntriesMoved } from './fan-out-state.js';
import { restoreStep } from './pure-steps.js';

export interface Pending {
  /** Outstanding runs of single activities (a fan-out's elements are in its FanOutState). */
  activities: Record<string, { invokeId: string; name: string }>;
  timers: Record<string, { sendId: string | null }>;
  children: Record<string, { invokeId: string; name: string }>;
  /** Fan-outs still collecting results (present only while there is one, so other snapshots keep their shape). */
  fanOuts?: Record<string, FanOutState>;
}

/** A fan-out (fanOut()) collecting its elements' results until the last one arrives. */
export interface FanOutState {
  invokeId: string;
  settle: boolean;
  /** Elements without a result yet. */
  remaining: number;
  /** One character per element: '1' while its result is outstanding (see fan-out-state.ts). */
  open: string;
  /** In input order: outputs (or FanOutSettled entries); null where none came yet. */
  results: Json[];
  /** Elements per work item when the fan-out is batched (fan-out-state.ts); absent: one each. */
  batch?: number;
}

export interface StoredSnapshot {
  machine: Json;
  pending: Pending;
  counter: number;
}

export function emptyPending(): Pending {
  return { activities: {}, timers: {}, children: {} };
}

/**
 * A copy of `p` that a turn may change without touching the record it was read from (a failed turn
 * ends from that record). A turn adds and deletes entries and changes a fan-out's counters, mask
 * and result slots, but never changes an entry or a result in place: copying those containers is
 * enough. structuredClone copied every stored result again in every turn of a fan-out.
 */
export function copyPending(p: Pending): Pending {
  const copy: Pending = { activities: { ...p.activities }, timers: { ...p.timers }, children: { ...p.children } };
  if (p.fanOuts) {
    copy.fanOuts = {};
    for (const [id, state] of Object.entries(p.fanOuts)) copy.fanOuts[id] = { ...state, results: [...state.results] };
  }
  return copy;
}

/** Reads the engine part of a stored snapshot (no machine needed); undefined when absent or malformed. */
export function readStoredSnapshot(json: Json | null): StoredSnapshot | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const { machine, pending, counter } = json as Record<string, Json>;
  if (machine === undefined || typeof counter !== 'number' || pending === null || typeof pending !== 'object') return undefined;
  return { machine, counter, pending: withElementEntriesMoved(pending as unknown as Pending) };
}

/**
 * The persisted form of a live machine snapshot, as it will read back from storage (JSON round trip).
 * Its context must be JSON-safe (NotJsonSafeError / PayloadTooLargeError otherwise): the persisted form
 * turns ActorRefs in context into references but keeps everything else as-is.
 */
export function persistMachine(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, maxPayloadBytes: number | undefined): Record<string, Json> {
  const persisted = machine.getPersistedSnapshot(snapshot) as { context?: unknown };
  assertJsonSafe(persisted.context, 'context');
  const text = JSON.stringify(persisted);
  // The context is part of this text, and UTF-8 takes at most 3 bytes per UTF-16 unit: when the text
  // is that small, so is the context, and it need not be serialised again just to be measured.
  if (maxPayloadBytes !== undefined && text.length * 3 > maxPayloadBytes) assertJsonSafe(persisted.context, 'context', maxPayloadBytes);
  return JSON.parse(text) as Record<string, Json>;
}

/**
 * The stored form of a persisted machine: without its context, which the record stores beside it
 * (InstanceWrite.context). A context that is null stays, so that persistedMachine can tell it from
 * one that is absent (a machine without context), which the record also stores as null.
 */
export function storedMachine(persisted: Record<string, Json>): Record<string, Json> {
  if (persisted.context === undefined || persisted.context === null) return persisted;
  // Built key by key: `delete` would turn the copy into a slow dictionary-mode object in V8.
  const stored: Record<string, Json> = {};
  for (const [key, value] of Object.entries(persisted)) if (key !== 'context') stored[key] = value;
  return stored;
}

/** The persisted machine a stored one was made from, with its context back from the record. Snapshots stored by earlier versions carry their own. */
export function persistedMachine(stored: Json, context: Json | null): Json {
  if (context === null || stored === null || typeof stored !== 'object' || Array.isArray(stored) || 'context' in stored) return stored;
  return { ...stored, context };
}

/**
 * Restore a persisted machine snapshot for a transition without starting anything. XState silently
 * drops a child whose src it cannot resolve: that would lose an outstanding activity, so it is an
 * error, like a snapshot the machine cannot read at all (both mean the stored state and the machine
 * disagree: NondeterminismError, handled as the instance's onNondeterminism option says).
 */
export function restoreMachine(machine: AnyStateMachine, persisted: Json): AnyMachineSnapshot {
  let restored: AnyMachineSnapshot;
  try {
    restored = restoreStep(machine, persisted);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new NondeterminismError(`the stored snapshot cannot be restored by the machine: ${message}`, { error: message });
  }
  const storedChildren = Object.keys(((persisted as { children?: Record<string, unknown> }).children ?? {}));
  const missing = storedChildren.filter((id) => !(id in restored.children));
  if (missing.length > 0) {
    throw new NondeterminismError(`the stored snapshot has children the machine cannot restore: ${missing.join(', ')}`, { missing });
  }
  return restored;
}
