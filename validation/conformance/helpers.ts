/**
 * Builders and assertions shared by the conformance cases (and reusable by the property half).
 * They speak to a provider only through the contract.
 */
import * as assert from 'uvu/assert';
import type {
  DeadLetter, HistoryEvent, InstanceRecord, InstanceWrite, OrchestrationDelta, OrchestrationItem,
  OrchestratorMessageInput, Provider, QueueDepths, WorkItemInput,
} from '../../providers/contract.js';
import type { ManualClock } from '../../providers/clock.js';
import type { Json } from '../../providers/types.js';
import type { CaseContext, ValidationCase } from '../case.js';

export const LOCK_MS = 60_000;

type ErrorClass<E> = abstract new (...args: never[]) => E;

/** Awaits `promise` and asserts it rejects with an instance of `ErrorClass`; returns the error. */
export async function expectError<E>(promise: Promise<unknown> | AsyncIterable<unknown>, ErrorClass: ErrorClass<E>, what = 'the call'): Promise<E> {
  try {
    if (Symbol.asyncIterator in promise) await collect(promise);
    else await promise;
  } catch (error) {
    if (error instanceof ErrorClass) return error;
    const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    assert.unreachable(`${what} should reject with ${ErrorClass.name}, but rejected with ${name}`);
  }
  return assert.unreachable(`${what} should reject with ${ErrorClass.name}, but succeeded`) as never;
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** The injected clock of a case marked `needsClock`. */
export function clockOf(ctx: CaseContext): ManualClock {
  if (!ctx.put.clock) throw new Error('this case needs put.clock (mark it needsClock)');
  return ctx.put.clock;
}

export function startMessage(instanceId: string, input: Json = null, name = 'sample'): OrchestratorMessageInput {
  return { instanceId, kind: 'start', payload: { name, input } };
}

export function eventMessage(instanceId: string, type = 'PING', extra: Record<string, Json> = {}): OrchestratorMessageInput {
  return { instanceId, kind: 'event', payload: { type, ...extra } };
}

export function sampleInstance(overrides: Partial<InstanceWrite> = {}): InstanceWrite {
  return {
    name: 'sample', version: '1', executionId: 1, status: 'running', stateValue: 'idle', context: { n: 0 },
    input: null, output: null, error: null, snapshot: { value: 'idle' }, definitionHash: 'hash-1', parent: null,
    ...overrides,
  };
}

/** A delta that changes nothing but the instance row; pass the parts a case is about. */
export function sampleDelta(overrides: Partial<Omit<OrchestrationDelta, 'instance'>> & { instance?: Partial<InstanceWrite> } = {}): OrchestrationDelta {
  const { instance, ...rest } = overrides;
  return {
    instance: sampleInstance(instance),
    history: [], messages: [], timers: [], workItems: [], cancelTimers: [], cancelActivities: [],
    keepMessageIds: [], deadLetterMessageIds: [],
    ...rest,
  };
}

export function historyEvents(executionId: number, fromSeq: number, count: number, type = 'event'): OrchestrationDelta['history'] {
  return Array.from({ length: count }, (_, i) => ({ executionId, seq: fromSeq + i, type, data: { i: fromSeq + i } }));
}

export function workItem(instanceId: string, activityId: string, overrides: Partial<WorkItemInput> = {}): WorkItemInput {
  return { instanceId, executionId: 1, activityId, name: 'sampleActivity', payload: { activityId }, ...overrides };
}

/** Fetch with max 1 and assert that exactly one item came back (for `instanceId` when given). */
export async function fetchOne(provider: Provider, instanceId?: string, lockMs = LOCK_MS): Promise<OrchestrationItem> {
  const items = await provider.fetchOrchestrationItems({ lockMs, max: 1 });
  assert.is(items.length, 1, 'expected one orchestration item');
  const item = items[0]!;
  if (instanceId !== undefined) assert.is(item.instanceId, instanceId, 'fetched the wrong instance');
  return item;
}

export async function fetchNone(provider: Provider, what = 'nothing should be fetchable'): Promise<void> {
  const items = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 100 });
  assert.equal(items.map((i) => i.instanceId), [], what);
}

/**
 * Start `instanceId` through the contract: enqueue its start, fetch it, ack its first turn (one
 * 'started' history event). The start must be the only fetchable work (cases begin empty).
 */
export async function createInstance(provider: Provider, instanceId: string, delta: Parameters<typeof sampleDelta>[0] = {}): Promise<void> {
  await provider.enqueueOrchestratorMessage(startMessage(instanceId));
  const item = await fetchOne(provider, instanceId);
  await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1, 'started'), ...delta }));
}

/** Run one turn of an existing or new instance whose messages are the oldest fetchable work. */
export async function turn(provider: Provider, instanceId: string, delta: Parameters<typeof sampleDelta>[0] = {}): Promise<OrchestrationItem> {
  const item = await fetchOne(provider, instanceId);
  await provider.ackOrchestrationItem(item.lockToken, sampleDelta(delta));
  return item;
}

export interface ObservableState {
  instances: Record<string, InstanceRecord | null>;
  histories: Record<string, HistoryEvent[] | 'not-found'>;
  pendingStarts: Record<string, boolean>;
  depths: QueueDepths;
  deadLetters: DeadLetter[];
}

/** Everything the read side shows about `instanceIds` and the queues: compare before/after a failed write. */
export async function observableState(provider: Provider, instanceIds: string[]): Promise<ObservableState> {
  const state: ObservableState = { instances: {}, histories: {}, pendingStarts: {}, depths: await provider.queueDepths(), deadLetters: [] };
  for (const id of instanceIds) {
    state.instances[id] = await provider.getInstance(id);
    state.pendingStarts[id] = await provider.hasPendingStart(id);
    state.histories[id] = state.instances[id] ? await collect(provider.readHistory(id)) : 'not-found';
  }
  state.deadLetters = (await provider.listDeadLetters({ limit: 1000 })).items;
  return state;
}

/** Resolve after `ms` real milliseconds (long-poll cases only; everything else uses the clock). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Kinds of the messages of an item, e.g. ['start', 'event']. */
export function kinds(item: OrchestrationItem): string[] {
  return item.messages.map((m) => m.kind);
}

/** Tag each case of one category file with the category's name. */
export function inCategory(category: string, cases: Array<Omit<ValidationCase, 'category'>>): ValidationCase[] {
  return cases.map((c) => ({ ...c, category }));
}
