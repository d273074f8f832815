/**
 * What the provider sends its stored functions, less what they read as absent anyway: an empty list,
 * an optional field that is null. The server parses every byte of a group commit into jsonb before
 * the function starts (a third of a first-turn ack's server CPU), and a first turn's ack of the
 * throughput workload carried 190 such bytes of 1,550: leaving them out took 12% off its parse
 * (~10 µs, `SELECT $1::jsonb` of 150 acks on one connection).
 * The functions read each of these with coalesce(x, '[]'), a strict set-returning function
 * (jsonb_to_recordset, jsonb_array_elements) or ->>, for which absent and null are the same
 * (001_init.sql onwards); a message's payload, which may be JSON null, is always sent.
 */
import type { DeltaArgs } from '../arguments.js';

/**
 * A copy of `value` without the keys `drop` names. Built key by key, not copied and then thinned with
 * `delete`: an object that loses a property is turned into a slow dictionary-mode object by V8, which
 * made these copies and the `JSON.stringify` after them cost more than the bytes they saved.
 */
function copyWithout<T extends object>(value: T, drop: (key: string, v: unknown) => boolean): Partial<T> {
  const copy: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (!drop(key, v)) copy[key] = v;
  return copy as Partial<T>;
}

/** A copy of `value` without those of `keys` whose value is null. */
export function withoutNulls<T extends object>(value: T, keys: readonly (keyof T & string)[]): Partial<T> {
  return copyWithout(value, (key, v) => v === null && (keys as readonly string[]).includes(key));
}

/** Whether `key` is one of `keys` and holds an empty list. */
const emptyListAt = (keys: readonly string[]) => (key: string, v: unknown): boolean => keys.includes(key) && (v as unknown[]).length === 0;

/** A message (an enqueue's, a work ack's result, a turn's) without its null options. */
export function messageWire<T extends { executionId: number | null; timerId: string | null; visibleAt: number | null }>(message: T): Partial<T> {
  return withoutNulls(message, ['executionId', 'timerId', 'visibleAt']);
}

const OPTIONAL_LISTS = ['messages', 'timers', 'workItems', 'cancelTimers', 'cancelActivities', 'keepMessageIds', 'deadLetterMessageIds'] as const;

/** A turn's delta as ackOrchestrationItem sends it; times are already whole milliseconds. */
export function deltaWire(delta: DeltaArgs): Partial<DeltaArgs> {
  const emptyList = emptyListAt(OPTIONAL_LISTS);
  const wire = copyWithout(delta, (key, v) =>
    emptyList(key, v) ||
    // Read only for the messages it dead-letters (the functions default it the same way).
    (key === 'deadLetterReason' && delta.deadLetterMessageIds.length === 0));
  wire.instance = copyWithout(delta.instance, emptyListAt(['passedExecutionInputs'])) as DeltaArgs['instance'];
  if (wire.messages) wire.messages = wire.messages.map((m) => messageWire(m) as typeof m);
  if (wire.workItems) wire.workItems = wire.workItems.map((w) => withoutNulls(w, ['visibleAt']) as typeof w);
  return wire;
}
