/**
 * The outstanding elements of a fan-out, kept in its FanOutState rather than one pending.activities
 * entry each: the stored snapshot is written and read back every turn, and 4,000 elements' entries
 * were 370 KB of it. An element's activity id names its fan-out and position (`<fanOutId>[<i>]`),
 * and `open` holds one character per element: '1' while its result is outstanding, '0' after.
 * A batched fan-out (fanOut(def, { batchSize })) queues its elements `batch` at a time: one work
 * item `<fanOutId>[<first>..<last>]` per batch, whose worker reports every element's result, each
 * under its element's id, in one message.
 */
import type { Json } from '../../providers/types.js';
import type { FanOutState, Pending } from './stored-snapshot.js';

const ELEMENT_ID = /^(.+)\[(\d+)\]$/;

export function elementActivityId(fanOutId: string, index: number): string {
  return `${fanOutId}[${index}]`;
}

/** A batch work item's payload, `{ batch }`: its fan-out, its first element's index and the inputs from there. */
export interface FanOutBatch {
  fanOutId: string;
  first: number;
  inputs: Json[];
}

/** The work item id of the batch of elements first..last (inclusive). */
export function batchActivityId(fanOutId: string, first: number, last: number): string {
  return `${fanOutId}[${first}..${last}]`;
}

/** The [first, last] element ranges of `elements` elements queued `size` at a time. */
export function batchRanges(elements: number, size: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let first = 0; first < elements; first += size) ranges.push([first, Math.min(first + size, elements) - 1]);
  return ranges;
}

export function newFanOutState(invokeId: string, settle: boolean, elements: number, batch = 1): FanOutState {
  const state: FanOutState = { invokeId, settle, remaining: elements, open: '1'.repeat(elements), results: new Array(elements).fill(null) };
  if (batch > 1) state.batch = batch; // absent otherwise: unbatched snapshots keep their shape
  return state;
}

export interface OpenElement {
  fanOutId: string;
  index: number;
  state: FanOutState;
}

/** The fan-out element `activityId` stands for, when it names one whose result is still outstanding. */
export function openElement(pending: Pending, activityId: string): OpenElement | undefined {
  const match = ELEMENT_ID.exec(activityId);
  if (match === null) return undefined;
  const fanOutId = match[1]!;
  const index = Number(match[2]);
  const state = pending.fanOuts?.[fanOutId];
  return state !== undefined && state.open[index] === '1' ? { fanOutId, index, state } : undefined;
}

export function closeElement(state: FanOutState, index: number): void {
  state.open = `${state.open.slice(0, index)}0${state.open.slice(index + 1)}`;
}

/**
 * The ids of a fan-out's work items whose results are outstanding, in input order: its open elements,
 * or the batches that hold one (what a cancellation deletes).
 */
export function openWorkItemIds(fanOutId: string, state: FanOutState): string[] {
  const ids: string[] = [];
  if (state.batch !== undefined) {
    for (const [first, last] of batchRanges(state.open.length, state.batch)) {
      if (state.open.slice(first, last + 1).includes('1')) ids.push(batchActivityId(fanOutId, first, last));
    }
    return ids;
  }
  for (let i = state.open.indexOf('1'); i !== -1; i = state.open.indexOf('1', i + 1)) ids.push(elementActivityId(fanOutId, i));
  return ids;
}

/** Every outstanding activity run's work item: single activities, then each fan-out's open ones. */
export function outstandingActivityIds(pending: Pending): string[] {
  const ids = Object.keys(pending.activities);
  for (const [fanOutId, state] of Object.entries(pending.fanOuts ?? {})) ids.push(...openWorkItemIds(fanOutId, state));
  return ids;
}

/**
 * Snapshots stored before `open` existed list each element in pending.activities (with `fanOut` and
 * `index`): the same pending with those entries moved into their fan-out's `open`, so such an
 * instance resumes (the argument is left as it was).
 */
export function withElementEntriesMoved(pending: Pending): Pending {
  const entries = Object.entries(pending.activities) as Array<[string, Pending['activities'][string] & { fanOut?: string; index?: number }]>;
  if (!entries.some(([, entry]) => entry.fanOut !== undefined)) return pending;
  const activities: Pending['activities'] = {};
  const masks = new Map<string, string[]>();
  for (const [activityId, { fanOut, index, ...entry }] of entries) {
    const state = fanOut === undefined ? undefined : pending.fanOuts?.[fanOut];
    if (state === undefined || index === undefined) {
      activities[activityId] = entry;
      continue;
    }
    let mask = masks.get(fanOut!);
    if (!mask) masks.set(fanOut!, (mask = state.results.map(() => '0')));
    mask[index] = '1';
  }
  const fanOuts = { ...pending.fanOuts };
  for (const [fanOutId, mask] of masks) fanOuts[fanOutId] = { ...fanOuts[fanOutId]!, open: mask.join('') };
  return { ...pending, activities, fanOuts };
}
