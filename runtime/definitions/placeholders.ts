/**
 * Actor-logic placeholders for `setup({ actors })`. XState needs actor logic to type invoke
 * input/output and to restore children from persisted snapshots, but the engine never runs actors:
 * it turns their spawns into durable commands. The placeholders therefore throw if ever started,
 * and carry a tag (a symbol-keyed property) telling the engine what to schedule.
 */
import { fromPromise, type AnyStateMachine, type InputFrom, type OutputFrom, type PromiseActorLogic } from 'xstate';
import type { Json } from '../../providers/types.js';
import { InvalidDefinitionError } from '../errors.js';
import type { ActivityDefinition } from './activity-definition.js';
import type { RetryPolicy } from './retry-policy.js';

const PLACEHOLDER = Symbol.for('durastate.placeholder');

export type PlaceholderInfo =
  | {
      kind: 'activity';
      name: string;
      retry: RetryPolicy;
      timeoutMs?: number;
      heartbeatMs?: number;
      /** Set by fanOut(): the input is an array and every element is one run of the activity. */
      fanOut?: { settle: boolean; batchSize?: number };
    }
  | { kind: 'orchestration'; name: string; version?: string };

/** Largest fanOut() batch: a batch's inputs travel in one work item, its results in one message. */
export const MAX_BATCH_SIZE = 1000;

export interface FanOutOptions {
  /** Elements per work item (see fanOut()). Default 1: every element is queued, fetched and acked alone. */
  batchSize?: number;
}

/** One element's outcome in a settled fan-out, as Promise.allSettled reports it (`reason`: the activity's error). */
export type FanOutSettled<O> = { status: 'fulfilled'; value: O } | { status: 'rejected'; reason: Json };

/** The structural part of an OrchestrationDefinition that a placeholder needs (avoids an import cycle). */
interface NamedOrchestration<M extends AnyStateMachine> {
  readonly kind: 'orchestration';
  readonly name: string;
  readonly machine: M;
}

function placeholder<O, I>(info: PlaceholderInfo): PromiseActorLogic<O, I> {
  const promise = fromPromise<O, I>(async () => {
    throw new Error(`durastate: the ${info.kind} placeholder '${info.name}' was started by XState; the engine must never start actors`);
  });
  // A child's input travels in its scheduling command (and work item or child instance); nothing
  // reads it back from the machine's snapshot, which every turn stores and loads again: a fan-out of
  // 4,000 elements kept 160 KB of inputs in it. JSON drops the undefined key.
  const logic: PromiseActorLogic<O, I> = { ...promise, getPersistedSnapshot: (snapshot) => ({ ...snapshot, input: undefined }) };
  Object.defineProperty(logic, PLACEHOLDER, { value: Object.freeze(info), enumerable: false });
  return logic;
}

/** What a placeholder stands for, or undefined when `logic` is not a durastate placeholder. */
export function readPlaceholder(logic: unknown): PlaceholderInfo | undefined {
  if ((typeof logic !== 'object' && typeof logic !== 'function') || logic === null) return undefined;
  return (logic as { [PLACEHOLDER]?: PlaceholderInfo })[PLACEHOLDER];
}

function activityInfo(def: ActivityDefinition, what: string): Extract<PlaceholderInfo, { kind: 'activity' }> {
  if (def?.kind !== 'activity') throw new InvalidDefinitionError(`${what}() expects a definition made by defineActivity()`);
  return {
    kind: 'activity',
    name: def.name,
    retry: def.retry,
    ...(def.timeoutMs !== undefined ? { timeoutMs: def.timeoutMs } : {}),
    ...(def.heartbeatMs !== undefined ? { heartbeatMs: def.heartbeatMs } : {}),
  };
}

/** Use an activity as an invoked actor: `setup({ actors: { charge: activity(charge) } })`. */
export function activity<I extends Json, O extends Json>(def: ActivityDefinition<I, O>): PromiseActorLogic<O, I> {
  return placeholder<O, I>(activityInfo(def, 'activity'));
}

/**
 * Fan-out/fan-in as ONE invoked actor: `setup({ actors: { chargeAll: fanOut(charge) } })`, invoked
 * with an array of inputs, runs the activity once per element (each with its own attempts and
 * retries, all in parallel on the workers) and finishes with the outputs in input order, like
 * Promise.all: the first element that fails for good ends it with `xstate.error.actor.<id>` (the
 * element's error, plus its `index`) and cancels the rest. With `{ settle: true }` it waits for every
 * element and finishes with one FanOutSettled per element, like Promise.allSettled. An empty array
 * finishes at once.
 *
 * With `{ batchSize: n }` (n > 1) the elements are queued n at a time: a worker fetches a batch as one
 * work item, holding one of its slots, runs the batch's elements all at once (each with its own
 * timeout and its attempts, retried in the worker after the policy's backoff), and reports every
 * element's result in one ack. For many short activities: a queued row, a lock and an ack per
 * batch instead of per element. The price: a batch's results arrive together, after its slowest
 * element; a worker's `concurrency` counts batches, not the elements running in them; and a
 * worker that dies mid-batch leaves the whole batch to run again.
 *
 * Spawning one child per element works too, but XState copies the machine's children map for every
 * spawn (O(n²)) and the engine keeps each child until its result is applied; a fan-out is one child.
 */
export function fanOut<I extends Json, O extends Json>(def: ActivityDefinition<I, O>, opts?: FanOutOptions & { settle?: false }): PromiseActorLogic<O[], I[]>;
export function fanOut<I extends Json, O extends Json>(def: ActivityDefinition<I, O>, opts: FanOutOptions & { settle: true }): PromiseActorLogic<Array<FanOutSettled<O>>, I[]>;
// Actor logic types are invariant in their output: the implementation's signature has to be open.
export function fanOut(def: ActivityDefinition, opts: FanOutOptions & { settle?: boolean } = {}): PromiseActorLogic<any, any> {
  const batchSize = opts?.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new InvalidDefinitionError(`fanOut(): batchSize must be a whole number from 1 to ${MAX_BATCH_SIZE}`, { batchSize: String(batchSize) });
  }
  return placeholder({ ...activityInfo(def, 'fanOut'), fanOut: { settle: opts?.settle === true, ...(batchSize > 1 ? { batchSize } : {}) } });
}

/**
 * Use a child orchestration as an invoked actor. Pass the definition to type its input/output, or a
 * name (types default to Json). Without `version` the child runs the newest registered version.
 */
export function orchestration<M extends AnyStateMachine>(def: NamedOrchestration<M>, opts?: { version?: string }): PromiseActorLogic<OutputFrom<M>, InputFrom<M>>;
export function orchestration<I = Json, O = Json>(name: string, opts?: { version?: string }): PromiseActorLogic<O, I>;
export function orchestration(nameOrDef: string | NamedOrchestration<AnyStateMachine>, opts: { version?: string } = {}): PromiseActorLogic<unknown, unknown> {
  const name = typeof nameOrDef === 'string' ? nameOrDef : nameOrDef?.name;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidDefinitionError('orchestration() expects a name or a definition made by defineOrchestration()');
  return placeholder({ kind: 'orchestration', name, ...(opts.version !== undefined ? { version: opts.version } : {}) });
}
