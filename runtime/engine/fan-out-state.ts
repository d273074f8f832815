/**
 * The outstanding elements of a fan-out, kept in its FanOutState rather than one pending.activities
 * entry each: the stored snapshot is written and read back every turn, and 4,000 elements' entries
 * were 370 KB of it. An element's activity id names its fan-out and position (`<fanOutId>[<i>]`),
 * and `open` holds one character per element: '1' while its result is outstanding, '0' after.
 */
import type { FanOutState, Pending } from './stored-snapshot.js';

const ELEMENT_ID = /^(.+)\[(\d+)\]$/;

export function elementActivityId(fanOutId: string, index: number): string {
  return `${fanOutId}[${index}]`;
}

export function newFanOutState(invokeId: string, settle: boolean, elements: number): FanOutState {
  return { invokeId, settle, remaining: elements, open: '1'.repeat(elements), results: new Array(elements).fill(null) };
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

/** The activity ids of a fan-out's outstanding elements, in input order. */
export function openElementIds(fanOutId: string, state: FanOutState): string[] {
  const ids: string[] = [];
  for (let i = state.open.indexOf('1'); i !== -1; i = state.open.indexOf('1', i + 1)) ids.push(elementActivityId(fanOutId, i));
  return ids;
}

/** Every outstanding activity run: single activities, then each fan-out's open elements. */
export function outstandingActivityIds(pending: Pending): string[] {
  const ids = Object.keys(pending.activities);
  for (const [fanOutId, state] of Object.entries(pending.fanOuts ?? {})) ids.push(...openElementIds(fanOutId, state));
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
