/**
 * The provider contract: everything the runtime needs from storage.
 *
 * Rules that hold for every method:
 * - Every method is atomic: it either does all it says or nothing, and a failure leaves storage as it was.
 * - All times are epoch milliseconds. Locks and visibility are judged by ONE clock: the provider's
 *   (the database's for Postgres), unless a test injected one through the provider's options.
 * - A lock token fences exactly one lock: the instance lock (orchestrator side) or one work item's
 *   lock (worker side). A token that no longer holds its lock (expired and taken over, released by
 *   ack/abandon, or whose item was deleted) is rejected with `LockLostError`, and nothing changes.
 * - Bad arguments raise `InvalidArgumentError` (or a subclass) before anything is written.
 * - Transient storage failures raise `RetryableProviderError`; the caller may retry the call.
 *
 * `providers/memory` is the reference model of this contract; `validation/` checks any provider against it.
 */
import type { InstanceStatus, Json } from './types.js';
export type { InstanceStatus, Json } from './types.js';

// ---------------------------------------------------------------- messages

/** Kinds of orchestrator-queue messages. The provider stores `payload` opaquely except where noted. */
export type OrchestratorMessageKind =
  | 'start' //          payload: StartPayload. Enqueuing one for an instance that exists or already has a start queued is InstanceExistsError.
  | 'event' //          payload: the machine event ({ type, ... }) raised by a client
  | 'activityCompleted' // payload: { activityId, output }
  | 'activityFailed' // payload: { activityId, error }
  | 'activityResults' // payload: { results: ActivityResult[] }: several results of one instance and execution (a fan-out batch's, or merged by the provider: ackWorkItem)
  | 'timerFired' //     payload: { timerId, event }
  | 'childCompleted' // payload: { invokeId, childInstanceId, output }
  | 'childFailed' //    payload: { invokeId, childInstanceId, error }
  | 'terminate' //      payload: { reason? } — delivered even while the instance is suspended
  | 'suspend' //        payload: { reason? }
  | 'resume'; //        payload: {} — delivered even while the instance is suspended

/** One result inside an 'activityResults' message: the kind and payload it would have had as a message of its own. */
export interface ActivityResult {
  kind: 'activityCompleted' | 'activityFailed';
  payload: Json;
}

/** Messages of these kinds are fetchable while the instance is suspended; all others wait. */
export const CONTROL_KINDS: readonly OrchestratorMessageKind[] = ['terminate', 'resume'];

export interface ParentRef {
  instanceId: string;
  executionId: number;
  /** The invoke id under which the parent machine knows this child. */
  invokeId: string;
}

export interface StartPayload {
  name: string;
  /** Absent: the newest version registered in the process that runs the first turn. */
  version?: string;
  input: Json;
  parent?: ParentRef;
}

export interface OrchestratorMessageInput {
  instanceId: string;
  kind: OrchestratorMessageKind;
  payload: Json;
  /** The execution this message belongs to (activity and timer results); absent = whichever is current. */
  executionId?: number;
  /** A key that `cancelTimers` in a later ack can delete this message by (durable timers). Unique per instance while queued. */
  timerId?: string;
}

export interface OrchestratorMessage extends Required<Omit<OrchestratorMessageInput, 'executionId' | 'timerId'>> {
  /** Provider-assigned, unique, increasing in enqueue order within one provider. */
  id: string;
  executionId: number | null;
  timerId: string | null;
  enqueuedAt: number;
  visibleAt: number;
  /** How many times this message has been handed out by a fetch, this fetch included (starts at 1). */
  attempt: number;
}

// ---------------------------------------------------------------- instances and history

export interface ErrorInfo {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  details?: Json;
}

/** What the runtime knows about an instance, as stored by the last successful ack. */
export interface InstanceRecord {
  instanceId: string;
  name: string;
  version: string;
  /** The current execution (1 for the first; continue-as-new increments it). */
  executionId: number;
  status: InstanceStatus;
  /** The XState state value after the last turn. */
  stateValue: Json;
  /** The machine context after the last turn (users read it through getStatus). */
  context: Json;
  input: Json;
  output: Json | null;
  error: ErrorInfo | null;
  /** `machine.getPersistedSnapshot(...)` after the last turn; null forces a replay from history. */
  snapshot: Json | null;
  /** Hash of the machine definition that produced `snapshot`; a different hash forces a replay. */
  definitionHash: string;
  parent: ParentRef | null;
  /** Number of history events of the current execution (the next event's seq). */
  historyLength: number;
  /** Turns committed for this instance over all executions. */
  turns: number;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
}

export interface HistoryEventInput {
  executionId: number;
  /** 0-based position within the execution; (instanceId, executionId, seq) is unique, a duplicate fails the ack. */
  seq: number;
  /** Engine-defined type, e.g. 'started', 'event', 'command', 'dropped', 'emitted', 'completed'. */
  type: string;
  data: Json;
}

export interface HistoryEvent extends HistoryEventInput {
  instanceId: string;
  /** Provider time when the ack that appended it committed. */
  at: number;
}

// ---------------------------------------------------------------- orchestrator side

export interface OrchestrationItem {
  instanceId: string;
  /** Unique per fetch; fences the instance lock. */
  lockToken: string;
  /** The current execution (from the instance record), or 1 before the first ack. */
  executionId: number;
  /** Every message of this instance that was visible at fetch time (and fetchable: see CONTROL_KINDS), oldest first. */
  messages: OrchestratorMessage[];
  /** The stored instance, or null when no ack has created it yet. Carries the snapshot. */
  instance: InstanceRecord | null;
  /** The highest attempt among `messages`: how often this batch (or part of it) was handed out. */
  attempt: number;
  /** The provider clock at fetch time: the turn's logical "now". */
  now: number;
  /** When the lock expires unless renewed (provider clock). */
  lockedUntil: number;
}

export interface FetchOptions {
  /** How long the lock lasts before another fetcher may take it over. > 0. */
  lockMs: number;
  /** Long-poll: wait up to this long for work (woken by notifications). 0 or absent: return at once. */
  waitMs?: number;
  /** Free text identifying the fetcher (process/host) for diagnostics. */
  owner?: string;
  /** Most items to return (distinct instances for orchestrations). Default 1. */
  max?: number;
  /** Aborting ends a long-poll early with an empty result. */
  signal?: AbortSignal;
}

/** The new state of the instance row written by an ack. */
export interface InstanceWrite {
  name: string;
  version: string;
  /**
   * The execution current after this ack. Greater than the stored one (or than 1 for a new instance):
   * the turn continued as new, once or several times. The stored execution (if any) is closed, every execution
   * in between is created and closed by this same ack (continued as new, inputs in
   * `passedExecutionInputs`), and this one is opened with `input`. Older than the stored one:
   * InvalidArgumentError.
   */
  executionId: number;
  status: InstanceStatus;
  stateValue: Json;
  context: Json;
  /** The input of `executionId` (written when the instance or the execution is created). */
  input: Json;
  /**
   * The inputs of the executions this ack both opens and closes, oldest first: every execution after
   * the stored one (from 1 for a new instance) and before `executionId`. A start and the event that
   * continues it as new in one batch pass execution 1; a new execution that continues again at once
   * passes itself. Absent means none; a length that does not match is InvalidArgumentError.
   */
  passedExecutionInputs?: Json[];
  output: Json | null;
  error: ErrorInfo | null;
  snapshot: Json | null;
  definitionHash: string;
  /** Only read when the ack creates the instance. */
  parent: ParentRef | null;
}

export interface WorkItemInput {
  instanceId: string;
  executionId: number;
  /** The invoke id in the machine; unique per (instanceId, executionId) while queued. */
  activityId: string;
  /** The registered activity name. */
  name: string;
  /** Opaque to the provider: the activity input and the retry/timeout policy. */
  payload: Json;
  visibleAt?: number;
}

export interface TimerInput {
  timerId: string;
  fireAt: number;
  executionId: number;
  payload: Json;
}

/** Everything one turn commits, in one transaction. */
export interface OrchestrationDelta {
  instance: InstanceWrite;
  /**
   * Appended to history; seqs must continue each execution's history (a new execution starts at 0).
   * Events may target every execution from the stored one (1 for a new instance) up to
   * `instance.executionId`, so one ack can end execution N, pass through N+1... and begin the
   * current one; any other executionId is InvalidArgumentError.
   */
  history: HistoryEventInput[];
  /** Messages to any instance (child starts, results to a parent, terminations), visible at `visibleAt` or now. */
  messages: Array<OrchestratorMessageInput & { visibleAt?: number }>;
  /** Durable timers of this instance: orchestrator messages of kind 'timerFired', visible at `fireAt`. */
  timers: TimerInput[];
  workItems: WorkItemInput[];
  /** Timer ids of this instance whose queued messages are deleted (unknown ids are ignored). */
  cancelTimers: string[];
  /** Activity ids of this instance whose queued work items are deleted, running or not (unknown ids are ignored). */
  cancelActivities: string[];
  /** Fetched message ids that are NOT consumed: unlocked and left in the queue (e.g. arrived after a suspend or continue-as-new). */
  keepMessageIds: string[];
  /** Fetched message ids moved to the dead-letter table instead of deleted (poison). */
  deadLetterMessageIds: string[];
  /** Reason recorded with dead-lettered messages. */
  deadLetterReason?: string;
}

export interface AbandonOptions {
  /**
   * Default 0. Orchestration item: the INSTANCE is not fetchable again before now + delayMs; its
   * messages (those abandoned and those arriving meanwhile) keep their visibleAt and so their order.
   * Work item: that item is visible again at now + delayMs.
   */
  delayMs?: number;
  /** If false, the fetch being abandoned does not count as an attempt. Default true. */
  countAttempt?: boolean;
}

// ---------------------------------------------------------------- worker side

export interface WorkItem {
  id: string;
  lockToken: string;
  instanceId: string;
  executionId: number;
  activityId: string;
  name: string;
  payload: Json;
  /** Fetch count, this fetch included (starts at 1). */
  attempt: number;
  enqueuedAt: number;
  lockedUntil: number;
  /** Provider clock at fetch time. */
  now: number;
}

/** Eager dispatch: an orchestration ack hands its new work items straight to the caller's worker. */
export interface AckOptions {
  lockWorkItems?: {
    /** As FetchOptions.lockMs. > 0. */
    lockMs: number;
    /** Most items to lock (the worker's free slots). >= 1. */
    max: number;
    owner?: string;
  };
}

export interface WorkItemAckOptions {
  /** Move the item to the dead-letter table (with this reason) instead of deleting it. */
  deadLetterReason?: string;
  /**
   * Result dispatch (eager dispatch the other way round): the same commit may also lock the
   * result's instance for the caller's orchestration dispatcher, saving it a fetch. See ackWorkItem.
   */
  lockInstance?: {
    /** As FetchOptions.lockMs. > 0. */
    lockMs: number;
    owner?: string;
  };
}

// ---------------------------------------------------------------- reads and admin

export interface InstanceFilter {
  status?: InstanceStatus[];
  name?: string;
  /** createdAt >= createdFrom */
  createdFrom?: number;
  /** createdAt < createdTo */
  createdTo?: number;
  parentInstanceId?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass to the next call to continue; null when there is no more. */
  nextCursor: string | null;
}

/**
 * Counts of queued things. locked: handed out under a live lock. Otherwise by visibleAt alone:
 * visible once it has passed, delayed before. So an orchestrator message that a fetch cannot hand out
 * right now for reasons of its instance (locked by a turn, held back by an abandon delay, suspended)
 * still counts as visible.
 */
export interface QueueDepths {
  orchestrator: { visible: number; delayed: number; locked: number };
  worker: { visible: number; delayed: number; locked: number };
  deadLetters: number;
}

export interface DeadLetter {
  id: string;
  queue: 'orchestrator' | 'worker';
  instanceId: string;
  reason: string;
  /** The message or work item as it was (kind/name, payload, attempt...). */
  item: Json;
  deadAt: number;
}

/** Change notifications for one instance (an ack committed for it). Used by waitForCompletion and subscribe. */
export type InstanceChangeListener = (instanceId: string) => void;

export interface Provider {
  // -------- orchestrator queue

  /**
   * Enqueue one message. Never creates an instance: events may arrive before the start and wait for it.
   * A 'start' for an instance that exists, or that already has a start queued, raises InstanceExistsError.
   * `visibleAt` in the future delays it (a scheduled start).
   */
  enqueueOrchestratorMessage(msg: OrchestratorMessageInput, opts?: { visibleAt?: number }): Promise<{ id: string }>;

  /**
   * Lock up to `max` distinct instances that have a visible message and whose instance lock is free or
   * expired (and whose abandon delay has passed), oldest visible message first, and return each with
   * all of its visible (fetchable) messages, which are now locked to the returned token: messages
   * that arrive later are not part of this item and survive its ack. Each returned message's attempt is incremented.
   * Concurrent callers never receive the same instance under valid locks. Empty array when none.
   */
  fetchOrchestrationItems(opts: FetchOptions): Promise<OrchestrationItem[]>;

  /**
   * Commit one turn atomically (see OrchestrationDelta): create or update the instance (created by its
   * first ack, never by enqueue), append history, enqueue messages/timers/work items, cancel timers and
   * activities, delete exactly the fetched messages (minus keep/dead-letter), release the lock, notify.
   * LockLostError if the token no longer holds the instance lock; any constraint violation
   * (e.g. a duplicate history seq) raises InvalidArgumentError; in both cases nothing changes and a
   * still-valid lock stays held.
   * With `opts.lockWorkItems` the same commit also locks this ack's new work items that are visible
   * now (at most `max`, oldest first) for the caller, exactly as a fetchWorkItems at that moment
   * would (attempt 1, lockedUntil = now + lockMs), and returns them: the caller's worker runs them
   * without fetching. Without it (or from a provider that does not lock eagerly) nothing is returned
   * and the items wait for a fetch as usual.
   */
  ackOrchestrationItem(lockToken: string, delta: OrchestrationDelta, opts?: AckOptions): Promise<WorkItem[] | void>;

  /**
   * Release the instance lock without consuming the messages; every message keeps its visibleAt
   * (only its attempt is given back when countAttempt is false). The token is dead at once.
   * With `delayMs` > 0 the instance, not its messages, is held back: it is not fetchable before
   * now + delayMs, and then all of its messages are delivered together in their usual order, those
   * that arrived during the delay included. (Delaying the messages instead would let a later message
   * overtake them: an orchestration would see E2 before E1.) LockLostError if the token does not hold the lock.
   */
  abandonOrchestrationItem(lockToken: string, opts?: AbandonOptions): Promise<void>;

  /** Extend the lock to now + lockMs. Returns the new lockedUntil. LockLostError if the token does not hold it (expired locks are not revived). */
  renewOrchestrationLock(lockToken: string, lockMs: number): Promise<number>;

  // -------- worker queue

  /** Lock up to `max` visible work items, oldest first (peek-lock). Concurrent callers never get the same item under valid locks. */
  fetchWorkItems(opts: FetchOptions): Promise<WorkItem[]>;

  /**
   * Delete the work item and enqueue `result` to the orchestrator queue, atomically.
   * LockLostError (nothing enqueued) if the lock expired, was taken over, or the item was cancelled.
   * A provider may merge results of one instance and execution whose acks commit together (no
   * visibleAt, no timerId) into one message of kind 'activityResults', listing them in ack order;
   * its consumer applies it as those messages one after the other. Each result is still delivered
   * exactly once.
   * With `opts.lockInstance`, when the result is a plain one (no visibleAt) and its instance has no
   * other work item queued for that execution (the instance waits for nothing else this worker
   * could bring), the same commit locks the instance as a fetchOrchestrationItems at that moment
   * would for it alone (only if it is not locked under a live lock; all its fetchable messages,
   * the result among them; attempt, now and lockedUntil as a fetch sets them) and returns the item:
   * the caller runs its turn without fetching. Otherwise, or from a provider that does not do this,
   * it returns null (or nothing) and the instance waits for a fetch as usual. Of several acks of one
   * instance committed together at most one returns it.
   */
  ackWorkItem(lockToken: string, result: OrchestratorMessageInput, opts?: WorkItemAckOptions): Promise<OrchestrationItem | null | void>;

  /** Release a work item for a retry: it alone is visible again at now + `delayMs`. LockLostError if the token does not hold it. */
  abandonWorkItem(lockToken: string, opts?: AbandonOptions): Promise<void>;

  /** Extend a work item's lock. LockLostError if lost or cancelled: the worker must abort the activity. */
  renewWorkItemLock(lockToken: string, lockMs: number): Promise<number>;

  // -------- reads

  getInstance(instanceId: string): Promise<InstanceRecord | null>;
  listInstances(filter?: InstanceFilter, page?: { cursor?: string | null; limit?: number }): Promise<Page<InstanceRecord>>;
  /** History of one execution (default: the current one), in seq order, streamed. InstanceNotFoundError if the instance does not exist. */
  readHistory(instanceId: string, opts?: { executionId?: number; fromSeq?: number }): AsyncIterable<HistoryEvent>;
  /** True while a 'start' message for this id is queued and no instance exists yet. */
  hasPendingStart(instanceId: string): Promise<boolean>;
  queueDepths(): Promise<QueueDepths>;
  listDeadLetters(page?: { cursor?: string | null; limit?: number }): Promise<Page<DeadLetter>>;

  // -------- admin

  /**
   * Delete an instance with its executions, history, queued messages, work items and lock, cascading to
   * its child instances. InstanceRunningError (nothing deleted) if it or a child is not terminal and `force` is not set.
   * Returns how many instances were deleted. InstanceNotFoundError if it does not exist.
   */
  deleteInstance(instanceId: string, opts?: { force?: boolean }): Promise<number>;
  /** Delete the history of executions older than the newest `keep` (default 1); never the current one. Returns executions deleted. */
  pruneExecutions(instanceId: string, opts?: { keep?: number }): Promise<number>;
  /** Delete terminal instances (and their children) completed before the time. Returns instances deleted. */
  purge(completedBefore: number): Promise<number>;
  /** Move a dead letter back to its queue, visible now, with its attempt count reset. */
  redriveDeadLetter(id: string): Promise<void>;

  // -------- notifications and lifecycle

  /** Call `listener` after each ack that changes the instance. Returns an unsubscribe function. */
  watchInstance(instanceId: string, listener: InstanceChangeListener): () => void;
  /** The provider's current time (its single clock). */
  now(): Promise<number>;
  close(): Promise<void>;
}
