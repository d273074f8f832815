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
import type { DeltaArgs, WorkItemArgs } from '../arguments.js';
import type { Json } from '../types.js';

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

/**
 * Consecutive elements of one fan-out, sent once for all of them: what they share, and each one's
 * input. The stored functions (016) expand it back into the items it stands for, in order: element
 * `first + i` has activity id `<prefix>[<first + i>]` and payload `{ input: inputs[i], ...options }`.
 */
export interface WorkItemRunWire {
  instanceId: string;
  executionId: number;
  name: string;
  visibleAt?: number;
  prefix: string;
  first: number;
  options: { [key: string]: Json };
  inputs: Json[];
}

export type WorkItemWire = Partial<WorkItemArgs> | WorkItemRunWire;

export type DeltaWire = Omit<Partial<DeltaArgs>, 'workItems'> & { workItems?: WorkItemWire[] };

/** A fan-out element's activity id (runtime/engine/fan-out-state.ts), its index written as String(n) writes it. */
const ELEMENT_ID = /^(.*)\[(0|[1-9]\d{0,14})\]$/;

type PayloadObject = { [key: string]: Json };
const isPlainObject = (v: Json): v is PayloadObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The work items with each run of consecutive fan-out elements sent as one WorkItemRunWire. A 1,000-wide
 * fan-out's items were ~240 kB of JSON, the name, ids and the activity's options repeated in each;
 * the server parses every byte into jsonb before the function starts, in the scheduling ack that
 * nothing overlaps. Elements join a run when their payload is an object with an `input` and otherwise
 * the very same values (the engine's are `{ input }` alone), so nothing is compared deeply.
 */
export function workItemsWire(items: readonly WorkItemArgs[]): WorkItemWire[] {
  const out: WorkItemWire[] = [];
  let i = 0;
  while (i < items.length) {
    const head = items[i]!;
    const id = ELEMENT_ID.exec(head.activityId);
    const first = id ? Number(id[2]) : NaN;
    if (!id || !isPlainObject(head.payload) || !('input' in head.payload)) {
      out.push(withoutNulls(head, ['visibleAt']));
      i += 1;
      continue;
    }
    const { input, ...options } = head.payload;
    const optionKeys = Object.keys(options);
    const inputs: Json[] = [input!];
    let j = i + 1;
    for (; j < items.length; j++) {
      const w = items[j]!;
      const p = w.payload;
      if (w.instanceId !== head.instanceId || w.executionId !== head.executionId || w.name !== head.name || w.visibleAt !== head.visibleAt) break;
      if (w.activityId !== `${id[1]}[${first + inputs.length}]`) break;
      if (!isPlainObject(p) || !('input' in p) || Object.keys(p).length !== optionKeys.length + 1) break;
      if (!optionKeys.every((key) => p[key] === options[key])) break;
      inputs.push(p.input!);
    }
    if (inputs.length === 1) out.push(withoutNulls(head, ['visibleAt']));
    else {
      const run: WorkItemRunWire = { instanceId: head.instanceId, executionId: head.executionId, name: head.name, prefix: id[1]!, first, options, inputs };
      if (head.visibleAt !== null) run.visibleAt = head.visibleAt;
      out.push(run);
    }
    i = j;
  }
  return out;
}

/** A turn's delta as ackOrchestrationItem sends it; times are already whole milliseconds. */
export function deltaWire(delta: DeltaArgs): DeltaWire {
  const emptyList = emptyListAt(OPTIONAL_LISTS);
  const wire = copyWithout(delta, (key, v) =>
    emptyList(key, v) ||
    // Read only for the messages it dead-letters (the functions default it the same way).
    (key === 'deadLetterReason' && delta.deadLetterMessageIds.length === 0));
  wire.instance = copyWithout(delta.instance, emptyListAt(['passedExecutionInputs'])) as DeltaArgs['instance'];
  if (wire.messages) wire.messages = wire.messages.map((m) => messageWire(m) as typeof m);
  return wire.workItems ? { ...wire, workItems: workItemsWire(delta.workItems) } : (wire as DeltaWire);
}
