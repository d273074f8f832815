/**
 * The in-memory reference model of the provider contract (providers/contract.ts).
 *
 * Written to be obviously right rather than fast: plain Maps, every method does all of its work
 * synchronously (validate everything, then apply) before its promise resolves, so each call is
 * atomic with respect to every other. Values are deep-copied in and out, so callers cannot reach
 * stored state. The property-based validation suite compares other providers against this one.
 *
 * Ordering: "oldest" means smallest (visibleAt, id), for fetch order between instances and for the
 * messages within one item. Abandon never touches a message's visibleAt (that would reorder it behind
 * later messages); a delay holds back the instance instead: its lock stays, under a token nobody
 * holds, until now + delayMs, and fetch's "free or expired lock" rule does the rest.
 */
import { randomUUID } from 'node:crypto';
import {
  CONTROL_KINDS,
  type AbandonOptions, type AckOptions, type DeadLetter, type FetchOptions, type HistoryEvent, type InstanceChangeListener,
  type InstanceFilter, type InstanceRecord, type OrchestrationDelta, type OrchestrationItem,
  type OrchestratorMessage, type OrchestratorMessageInput, type Page, type Provider, type QueueDepths,
  type WorkItem, type WorkItemAckOptions,
} from '../contract.js';
import type { Clock } from '../clock.js';
import type { Json } from '../types.js';
import { isTerminal } from '../types.js';
import {
  InstanceExistsError, InstanceNotFoundError, InstanceRunningError, InvalidArgumentError, LockLostError,
} from '../errors.js';
import {
  abandonArgs, ackOptionsArgs, deltaArgs, fetchArgs, filterArgs, messageArgs, pageArgs, requireId, requireInteger,
  requireObject, requirePositiveMs, requireTime, workAckOptionsArgs, type FetchArgs, type MessageArgs,
} from '../arguments.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { Wakeup } from './wakeup.js';

interface InstanceLock {
  instanceId: string;
  /** A fresh random token nobody knows when the lock only holds back an abandoned instance. */
  token: string;
  lockedUntil: number;
  /** The messages handed out with this lock: exactly what its ack consumes. */
  messageIds: Set<string>;
}

/** A queued work item: what a fetch hands out, plus when it is visible; unlocked while lockToken is null. */
interface StoredWorkItem extends Omit<WorkItem, 'lockToken' | 'now'> {
  visibleAt: number;
  lockToken: string | null;
}

/** Queued things sort by when they became visible, then by enqueue order. */
function oldestFirst(a: { visibleAt: number; id: string }, b: { visibleAt: number; id: string }): number {
  return a.visibleAt - b.visibleAt || Number(a.id) - Number(b.id);
}

const clone = <T>(value: T): T => structuredClone(value);

export class MemoryProvider implements Provider {
  private readonly clock: Clock;
  private readonly wakeup = new Wakeup();
  private closed = false;

  private readonly instances = new Map<string, InstanceRecord>();
  /** instanceId -> executionId -> history events (in append order). */
  private readonly executions = new Map<string, Map<number, HistoryEvent[]>>();
  private readonly messages = new Map<string, OrchestratorMessage>();
  private readonly locks = new Map<string, InstanceLock>();
  private readonly workItems = new Map<string, StoredWorkItem>();
  private readonly deadLetters = new Map<string, DeadLetter>();
  private readonly watchers = new Map<string, Set<InstanceChangeListener>>();
  private lastMessageId = 0;
  private lastWorkItemId = 0;
  private lastDeadLetterId = 0;

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? { now: () => Date.now() };
  }

  // ------------------------------------------------------------ orchestrator queue

  async enqueueOrchestratorMessage(msg: OrchestratorMessageInput, opts?: { visibleAt?: number }): Promise<{ id: string }> {
    const args = messageArgs(msg, 'message');
    const visibleAt = opts?.visibleAt === undefined ? null : requireTime(opts.visibleAt, 'visibleAt');
    this.checkEnqueue([args], new Set());
    const id = this.insertMessage(args, visibleAt ?? this.clock.now());
    this.wakeup.notify();
    return { id };
  }

  async fetchOrchestrationItems(opts: FetchOptions): Promise<OrchestrationItem[]> {
    const args = fetchArgs(opts);
    return this.longPoll(args, () => this.lockOrchestrationItems(args), () => this.nextOrchestratorChange());
  }

  async ackOrchestrationItem(lockToken: string, delta: OrchestrationDelta, opts?: AckOptions): Promise<WorkItem[] | void> {
    const args = deltaArgs(delta);
    const lockWork = ackOptionsArgs(opts);
    const lock = this.heldLock(lockToken);
    const instanceId = lock.instanceId;
    const stored = this.instances.get(instanceId);

    // ---- validate against stored state: nothing is written until every check passed
    if (stored && args.instance.executionId < stored.executionId) {
      throw new InvalidArgumentError('delta.instance.executionId is older than the stored execution', {
        instanceId, stored: stored.executionId, given: args.instance.executionId,
      });
    }
    const continuing = stored !== undefined && args.instance.executionId > stored.executionId;
    // Executions this ack writes: the stored one (1 for a new instance) up to the new current one.
    const firstWritable = stored?.executionId ?? 1;
    const firstOpened = stored ? stored.executionId + 1 : 1;
    const passed = Math.max(0, args.instance.executionId - firstOpened);
    if (args.instance.passedExecutionInputs.length !== passed) {
      throw new InvalidArgumentError('delta.instance.passedExecutionInputs must hold one input per execution opened and closed by this ack', {
        instanceId, expected: passed, given: args.instance.passedExecutionInputs.length,
      });
    }
    const seen = new Set<string>();
    for (const event of args.history) {
      if (event.executionId < firstWritable || event.executionId > args.instance.executionId) {
        throw new InvalidArgumentError('history event for an execution this ack does not write', { instanceId, executionId: event.executionId });
      }
      const key = `${event.executionId}:${event.seq}`;
      if (seen.has(key) || this.history(instanceId, event.executionId).some((e) => e.seq === event.seq)) {
        throw new InvalidArgumentError('duplicate history event', { instanceId, executionId: event.executionId, seq: event.seq });
      }
      seen.add(key);
    }
    const keep = new Set(args.keepMessageIds);
    const dead = new Set(args.deadLetterMessageIds);
    for (const id of [...args.keepMessageIds, ...args.deadLetterMessageIds]) {
      if (!lock.messageIds.has(id)) throw new InvalidArgumentError(`message ${id} was not fetched with this lock`, { id });
    }
    if (keep.size !== args.keepMessageIds.length || dead.size !== args.deadLetterMessageIds.length || [...keep].some((id) => dead.has(id))) {
      throw new InvalidArgumentError('keepMessageIds and deadLetterMessageIds must be distinct fetched ids');
    }
    const consumed = new Set([...lock.messageIds].filter((id) => !keep.has(id) && !dead.has(id)));
    const cancelledTimers = new Set(args.cancelTimers);
    const leaving = new Set([...lock.messageIds].filter((id) => !keep.has(id)));
    for (const m of this.messages.values()) {
      if (m.instanceId === instanceId && m.timerId !== null && cancelledTimers.has(m.timerId)) leaving.add(m.id);
    }
    const timerMessages: MessageArgs[] = args.timers.map((t) => ({
      instanceId, kind: 'timerFired', payload: t.payload, executionId: t.executionId, timerId: t.timerId, visibleAt: t.fireAt,
    }));
    // The instance being acked exists once this commits: a start for it is a duplicate too.
    this.checkEnqueue([...args.messages, ...timerMessages], leaving, instanceId);
    const cancelledActivities = new Set(args.cancelActivities);
    const leavingWork = new Set(
      [...this.workItems.values()].filter((w) => w.instanceId === instanceId && cancelledActivities.has(w.activityId)).map((w) => w.id),
    );
    const newActivities = new Set<string>();
    for (const w of args.workItems) {
      const key = `${w.instanceId}\u0000${w.executionId}\u0000${w.activityId}`;
      if (newActivities.has(key)) throw activityQueuedError(w);
      this.checkActivityNotQueued(w, leavingWork);
      newActivities.add(key);
    }

    // ---- apply
    const now = this.clock.now();
    const write = args.instance;
    const terminal = isTerminal(write.status);
    const record: InstanceRecord = {
      instanceId,
      name: write.name,
      version: write.version,
      executionId: write.executionId,
      status: write.status,
      stateValue: write.stateValue,
      context: write.context,
      input: !stored || continuing ? write.input : stored.input,
      output: write.output,
      error: write.error,
      snapshot: write.snapshot,
      definitionHash: write.definitionHash,
      parent: stored ? stored.parent : write.parent,
      historyLength: 0,
      turns: (stored?.turns ?? 0) + 1,
      createdAt: stored?.createdAt ?? now,
      updatedAt: now,
      completedAt: !terminal ? null : stored && isTerminal(stored.status) && !continuing ? stored.completedAt : now,
    };
    const executions = this.executions.get(instanceId) ?? new Map<number, HistoryEvent[]>();
    this.executions.set(instanceId, executions);
    for (let executionId = firstWritable; executionId <= write.executionId; executionId++) {
      if (!executions.has(executionId)) executions.set(executionId, []);
    }
    for (const event of args.history) executions.get(event.executionId)!.push({ ...event, instanceId, at: now });
    record.historyLength = executions.get(write.executionId)!.length;
    this.instances.set(instanceId, record);

    for (const id of consumed) this.messages.delete(id);
    for (const id of dead) this.deadLetterMessage(id, args.deadLetterReason, now);
    for (const m of [...this.messages.values()]) {
      if (m.instanceId === instanceId && m.timerId !== null && cancelledTimers.has(m.timerId)) this.messages.delete(m.id);
    }
    for (const id of leavingWork) this.workItems.delete(id);
    for (const m of [...args.messages, ...timerMessages]) this.insertMessage(m, m.visibleAt ?? now);
    const newWork = args.workItems.map((w) => this.insertWorkItem(w, w.visibleAt ?? now, now));
    this.locks.delete(instanceId);
    // Eager dispatch: what a fetchWorkItems right after this commit could hand out of the new items.
    const eager = lockWork === null ? [] : newWork.filter((w) => w.visibleAt <= now).sort(oldestFirst).slice(0, lockWork.max)
      .map((w) => this.lockWorkItem(w, now, lockWork.lockMs));

    this.wakeup.notify();
    for (const listener of [...(this.watchers.get(instanceId) ?? [])]) {
      try {
        listener(instanceId);
      } catch {
        // A listener's failure must not turn a committed ack into a rejected one.
      }
    }
    return eager;
  }

  async abandonOrchestrationItem(lockToken: string, opts?: AbandonOptions): Promise<void> {
    const { delayMs, countAttempt } = abandonArgs(opts);
    const lock = this.heldLock(lockToken);
    const now = this.clock.now();
    if (!countAttempt) for (const id of lock.messageIds) this.messages.get(id)!.attempt -= 1;
    const { instanceId } = lock;
    if (delayMs > 0) this.locks.set(instanceId, { instanceId, token: randomUUID(), lockedUntil: now + delayMs, messageIds: new Set() });
    else this.locks.delete(instanceId);
    this.wakeup.notify();
  }

  async renewOrchestrationLock(lockToken: string, lockMs: number): Promise<number> {
    const ms = requirePositiveMs(lockMs, 'lockMs');
    const lock = this.heldLock(lockToken);
    lock.lockedUntil = this.clock.now() + ms;
    return lock.lockedUntil;
  }

  // ------------------------------------------------------------ worker queue

  async fetchWorkItems(opts: FetchOptions): Promise<WorkItem[]> {
    const args = fetchArgs(opts);
    return this.longPoll(args, () => this.lockWorkItems(args), () => this.nextWorkerChange());
  }

  async ackWorkItem(lockToken: string, result: OrchestratorMessageInput, opts?: WorkItemAckOptions): Promise<OrchestrationItem | null> {
    const args = messageArgs(result, 'result');
    const { deadLetterReason: reason, lockInstance } = workAckOptionsArgs(opts);
    const item = this.heldWorkItem(lockToken);
    this.checkEnqueue([args], new Set());
    const now = this.clock.now();
    this.workItems.delete(item.id);
    if (reason !== null) this.addDeadLetter('worker', item.instanceId, reason, workItemJson(item), now);
    this.insertMessage(args, args.visibleAt ?? now);
    const claimed = lockInstance && args.visibleAt === null ? this.lockInstanceForResult(args, now, lockInstance.lockMs) : null;
    // A claimed instance's messages are all handed out: no fetcher needs waking for them.
    if (!claimed) this.wakeup.notify();
    return claimed;
  }

  async abandonWorkItem(lockToken: string, opts?: AbandonOptions): Promise<void> {
    const { delayMs, countAttempt } = abandonArgs(opts);
    const item = this.heldWorkItem(lockToken);
    item.visibleAt = this.clock.now() + delayMs;
    item.lockToken = null;
    item.lockedUntil = 0;
    if (!countAttempt) item.attempt -= 1;
    this.wakeup.notify();
  }

  async renewWorkItemLock(lockToken: string, lockMs: number): Promise<number> {
    const ms = requirePositiveMs(lockMs, 'lockMs');
    const item = this.heldWorkItem(lockToken);
    item.lockedUntil = this.clock.now() + ms;
    return item.lockedUntil;
  }

  // ------------------------------------------------------------ reads

  async getInstance(instanceId: string): Promise<InstanceRecord | null> {
    const record = this.instances.get(requireId(instanceId, 'instanceId'));
    return record ? clone(record) : null;
  }

  async listInstances(filter?: InstanceFilter, page?: { cursor?: string | null; limit?: number }): Promise<Page<InstanceRecord>> {
    const f = filterArgs(filter);
    const { cursor, limit } = pageArgs(page);
    const after = cursor === null ? null : decodeCursor(cursor, ['number', 'string']) as [number, string];
    const matching = [...this.instances.values()]
      .filter((r) => (f.status === undefined || f.status.includes(r.status))
        && (f.name === undefined || r.name === f.name)
        && (f.createdFrom === undefined || r.createdAt >= f.createdFrom)
        && (f.createdTo === undefined || r.createdAt < f.createdTo)
        && (f.parentInstanceId === undefined || r.parent?.instanceId === f.parentInstanceId))
      .sort((a, b) => a.createdAt - b.createdAt || compareStrings(a.instanceId, b.instanceId))
      .filter((r) => after === null || r.createdAt > after[0] || (r.createdAt === after[0] && compareStrings(r.instanceId, after[1]) > 0));
    const items = matching.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(clone),
      nextCursor: matching.length > limit && last ? encodeCursor([last.createdAt, last.instanceId]) : null,
    };
  }

  async *readHistory(instanceId: string, opts?: { executionId?: number; fromSeq?: number }): AsyncIterable<HistoryEvent> {
    requireId(instanceId, 'instanceId');
    const o = opts === undefined ? {} : requireObject(opts, 'history options');
    const executionId = o.executionId === undefined ? undefined : requireInteger(o.executionId, 1, 'executionId');
    const fromSeq = o.fromSeq === undefined ? 0 : requireInteger(o.fromSeq, 0, 'fromSeq');
    const record = this.instances.get(instanceId);
    if (!record) throw new InstanceNotFoundError(instanceId);
    // Copy the selection now: the stream reflects the history at the time iteration started.
    const events = this.history(instanceId, executionId ?? record.executionId)
      .filter((e) => e.seq >= fromSeq)
      .sort((a, b) => a.seq - b.seq)
      .map(clone);
    yield* events;
  }

  async hasPendingStart(instanceId: string): Promise<boolean> {
    requireId(instanceId, 'instanceId');
    return !this.instances.has(instanceId) && this.queuedStart(instanceId);
  }

  async queueDepths(): Promise<QueueDepths> {
    const now = this.clock.now();
    const depths: QueueDepths = {
      orchestrator: { visible: 0, delayed: 0, locked: 0 },
      worker: { visible: 0, delayed: 0, locked: 0 },
      deadLetters: this.deadLetters.size,
    };
    for (const m of this.messages.values()) {
      const lock = this.locks.get(m.instanceId);
      if (lock && lock.lockedUntil > now && lock.messageIds.has(m.id)) depths.orchestrator.locked++;
      else if (m.visibleAt <= now) depths.orchestrator.visible++;
      else depths.orchestrator.delayed++;
    }
    for (const w of this.workItems.values()) {
      if (w.lockToken !== null && w.lockedUntil > now) depths.worker.locked++;
      else if (w.visibleAt <= now) depths.worker.visible++;
      else depths.worker.delayed++;
    }
    return depths;
  }

  async listDeadLetters(page?: { cursor?: string | null; limit?: number }): Promise<Page<DeadLetter>> {
    const { cursor, limit } = pageArgs(page);
    const after = cursor === null ? 0 : Number(decodeCursor(cursor, ['string'])[0]);
    const matching = [...this.deadLetters.values()].filter((d) => Number(d.id) > after).sort((a, b) => Number(a.id) - Number(b.id));
    const items = matching.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map(clone), nextCursor: matching.length > limit && last ? encodeCursor([last.id]) : null };
  }

  // ------------------------------------------------------------ admin

  async deleteInstance(instanceId: string, opts?: { force?: boolean }): Promise<number> {
    requireId(instanceId, 'instanceId');
    const o = opts === undefined ? {} : requireObject(opts, 'delete options');
    if (o.force !== undefined && typeof o.force !== 'boolean') throw new InvalidArgumentError('force must be a boolean');
    if (!this.instances.has(instanceId)) throw new InstanceNotFoundError(instanceId);
    const doomed = this.withDescendants([instanceId]);
    if (o.force !== true) {
      const running = [...doomed].find((id) => !isTerminal(this.instances.get(id)!.status));
      if (running !== undefined) throw new InstanceRunningError(running);
    }
    this.deleteAll(doomed);
    return doomed.size;
  }

  async pruneExecutions(instanceId: string, opts?: { keep?: number }): Promise<number> {
    requireId(instanceId, 'instanceId');
    const o = opts === undefined ? {} : requireObject(opts, 'prune options');
    const keep = o.keep === undefined ? 1 : requireInteger(o.keep, 1, 'keep');
    const record = this.instances.get(instanceId);
    if (!record) throw new InstanceNotFoundError(instanceId);
    const executions = this.executions.get(instanceId)!;
    let deleted = 0;
    for (const executionId of [...executions.keys()]) {
      if (executionId <= record.executionId - keep) {
        executions.delete(executionId);
        deleted++;
      }
    }
    return deleted;
  }

  async purge(completedBefore: number): Promise<number> {
    const before = requireTime(completedBefore, 'completedBefore');
    const roots = [...this.instances.values()]
      .filter((r) => isTerminal(r.status) && r.completedAt !== null && r.completedAt < before)
      .map((r) => r.instanceId);
    const doomed = this.withDescendants(roots);
    this.deleteAll(doomed);
    return doomed.size;
  }

  async redriveDeadLetter(id: string): Promise<void> {
    requireId(id, 'id');
    const letter = this.deadLetters.get(id);
    if (!letter) throw new InvalidArgumentError(`dead letter '${id}' does not exist`, { id }, 'DEAD_LETTER_NOT_FOUND');
    const item = letter.item as Record<string, Json>;
    const now = this.clock.now();
    if (letter.queue === 'orchestrator') {
      const args = messageArgs({ ...item, instanceId: letter.instanceId, visibleAt: null }, 'dead letter');
      this.checkEnqueue([args], new Set());
      this.insertMessage(args, now);
    } else {
      const w = { instanceId: letter.instanceId, executionId: item.executionId as number, activityId: item.activityId as string };
      this.checkActivityNotQueued(w, new Set());
      this.insertWorkItem({ ...w, name: item.name as string, payload: item.payload as Json }, now, now);
    }
    this.deadLetters.delete(id);
    this.wakeup.notify();
  }

  // ------------------------------------------------------------ notifications and lifecycle

  watchInstance(instanceId: string, listener: InstanceChangeListener): () => void {
    requireId(instanceId, 'instanceId');
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function');
    const set = this.watchers.get(instanceId) ?? new Set();
    set.add(listener);
    this.watchers.set(instanceId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(instanceId) === set) this.watchers.delete(instanceId);
    };
  }

  async now(): Promise<number> {
    return this.clock.now();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeup.notify(); // long-polls end with [] instead of keeping the process alive
  }

  // ------------------------------------------------------------ internals

  /**
   * Try at once; if nothing and `waitMs` > 0, wait for a write (or for the next moment something
   * becomes due by the provider clock) and retry, until the deadline. The deadline is real
   * elapsed time (Date.now), while visibility and locks follow the provider clock: with a
   * ManualClock, waiting never makes delayed work due, only a write or `advance` + a write does.
   */
  private async longPoll<T>(args: FetchArgs, attempt: () => T[], nextChangeAt: () => number | null): Promise<T[]> {
    const deadline = Date.now() + args.waitMs;
    for (;;) {
      if (args.signal?.aborted || this.closed) return [];
      const found = attempt();
      const remaining = deadline - Date.now();
      if (found.length > 0 || remaining <= 0) return found;
      const changeAt = nextChangeAt();
      const untilChange = changeAt === null ? remaining : changeAt - this.clock.now();
      await this.wakeup.wait(Math.min(remaining, untilChange), args.signal);
    }
  }

  private lockOrchestrationItems(args: FetchArgs): OrchestrationItem[] {
    const now = this.clock.now();
    const byInstance = new Map<string, OrchestratorMessage[]>();
    for (const m of [...this.messages.values()].sort(oldestFirst)) {
      if (!this.fetchable(m, now) || !this.instanceFree(m.instanceId, now)) continue;
      const list = byInstance.get(m.instanceId);
      if (list) list.push(m);
      else if (byInstance.size < args.max) byInstance.set(m.instanceId, [m]);
    }
    return [...byInstance].map(([instanceId, messages]) => this.lockInstance(instanceId, messages, now, args.lockMs));
  }

  /** Result dispatch (contract: ackWorkItem): the result's instance, as a fetch of it alone would lock it, when nothing else is due from the worker. */
  private lockInstanceForResult(result: MessageArgs, now: number, lockMs: number): OrchestrationItem | null {
    const { instanceId, executionId } = result;
    if (!this.instanceFree(instanceId, now)) return null;
    if ([...this.workItems.values()].some((w) => w.instanceId === instanceId && w.executionId === executionId)) return null;
    const messages = [...this.messages.values()].filter((m) => m.instanceId === instanceId && this.fetchable(m, now)).sort(oldestFirst);
    return messages.length > 0 ? this.lockInstance(instanceId, messages, now, lockMs) : null;
  }

  /** Lock an instance with these fetchable messages of it (oldest first) and hand them out. */
  private lockInstance(instanceId: string, messages: OrchestratorMessage[], now: number, lockMs: number): OrchestrationItem {
    const lock: InstanceLock = { instanceId, token: randomUUID(), lockedUntil: now + lockMs, messageIds: new Set() };
    for (const m of messages) {
      m.attempt += 1;
      lock.messageIds.add(m.id);
    }
    this.locks.set(instanceId, lock);
    const instance = this.instances.get(instanceId);
    return {
      instanceId,
      lockToken: lock.token,
      executionId: instance?.executionId ?? 1,
      messages: messages.map(clone),
      instance: instance ? clone(instance) : null,
      attempt: Math.max(...messages.map((m) => m.attempt)),
      now,
      lockedUntil: lock.lockedUntil,
    };
  }

  private lockWorkItems(args: FetchArgs): WorkItem[] {
    const now = this.clock.now();
    const free = [...this.workItems.values()]
      .filter((w) => w.visibleAt <= now && (w.lockToken === null || w.lockedUntil <= now))
      .sort(oldestFirst)
      .slice(0, args.max);
    return free.map((w) => this.lockWorkItem(w, now, args.lockMs));
  }

  private lockWorkItem(w: StoredWorkItem, now: number, lockMs: number): WorkItem {
    w.lockToken = randomUUID();
    w.lockedUntil = now + lockMs;
    w.attempt += 1;
    return {
      id: w.id, lockToken: w.lockToken, instanceId: w.instanceId, executionId: w.executionId, activityId: w.activityId,
      name: w.name, payload: clone(w.payload), attempt: w.attempt, enqueuedAt: w.enqueuedAt, lockedUntil: w.lockedUntil, now,
    };
  }

  /** The next provider time after now at which an orchestration item may become fetchable without a write. */
  private nextOrchestratorChange(): number | null {
    const now = this.clock.now();
    const times = [...this.messages.values()].map((m) => m.visibleAt)
      .concat([...this.locks.values()].map((l) => l.lockedUntil))
      .filter((t) => t > now);
    return times.length ? Math.min(...times) : null;
  }

  private nextWorkerChange(): number | null {
    const now = this.clock.now();
    const times = [...this.workItems.values()].map((w) => (w.lockToken === null ? w.visibleAt : Math.max(w.visibleAt, w.lockedUntil)))
      .filter((t) => t > now);
    return times.length ? Math.min(...times) : null;
  }

  private fetchable(m: OrchestratorMessage, now: number): boolean {
    if (m.visibleAt > now) return false;
    return this.instances.get(m.instanceId)?.status !== 'suspended' || CONTROL_KINDS.includes(m.kind);
  }

  private instanceFree(instanceId: string, now: number): boolean {
    const lock = this.locks.get(instanceId);
    return !lock || lock.lockedUntil <= now;
  }

  private heldLock(lockToken: string): InstanceLock {
    requireId(lockToken, 'lockToken');
    const now = this.clock.now();
    for (const lock of this.locks.values()) {
      if (lock.token === lockToken && lock.lockedUntil > now) return lock;
    }
    throw new LockLostError(undefined, { lockToken });
  }

  private heldWorkItem(lockToken: string): StoredWorkItem {
    requireId(lockToken, 'lockToken');
    const now = this.clock.now();
    for (const item of this.workItems.values()) {
      if (item.lockToken === lockToken && item.lockedUntil > now) return item;
    }
    throw new LockLostError(undefined, { lockToken });
  }

  private history(instanceId: string, executionId: number): HistoryEvent[] {
    return this.executions.get(instanceId)?.get(executionId) ?? [];
  }

  private queuedStart(instanceId: string, ignoring: Set<string> = new Set()): boolean {
    return [...this.messages.values()].some((m) => m.instanceId === instanceId && m.kind === 'start' && !ignoring.has(m.id));
  }

  /**
   * The uniqueness rules of enqueuing `batch`: one start per instance (none if it exists or has
   * one queued), one queued message per (instance, timerId). `leaving` are queued message ids
   * the same write deletes; `creating` is an instance the same write creates.
   */
  private checkEnqueue(batch: MessageArgs[], leaving: Set<string>, creating?: string): void {
    const starts = new Set<string>();
    const timers = new Set<string>();
    for (const m of batch) {
      if (m.kind === 'start') {
        if (this.instances.has(m.instanceId) || m.instanceId === creating || starts.has(m.instanceId) || this.queuedStart(m.instanceId, leaving)) {
          throw new InstanceExistsError(m.instanceId);
        }
        starts.add(m.instanceId);
      }
      if (m.timerId !== null) {
        const key = `${m.instanceId}\u0000${m.timerId}`;
        const queued = [...this.messages.values()].some((q) => !leaving.has(q.id) && q.instanceId === m.instanceId && q.timerId === m.timerId);
        if (queued || timers.has(key)) {
          throw new InvalidArgumentError('a message with this timerId is already queued for the instance', { instanceId: m.instanceId, timerId: m.timerId });
        }
        timers.add(key);
      }
    }
  }

  /** One queued work item per (instance, execution, activityId); `leaving` are work item ids the same write deletes. */
  private checkActivityNotQueued(w: ActivityKey, leaving: Set<string>): void {
    for (const q of this.workItems.values()) {
      if (!leaving.has(q.id) && q.instanceId === w.instanceId && q.executionId === w.executionId && q.activityId === w.activityId) {
        throw activityQueuedError(w);
      }
    }
  }

  private insertMessage(m: MessageArgs, visibleAt: number): string {
    const id = String(++this.lastMessageId);
    this.messages.set(id, {
      id, instanceId: m.instanceId, kind: m.kind, payload: m.payload, executionId: m.executionId, timerId: m.timerId,
      enqueuedAt: this.clock.now(), visibleAt, attempt: 0,
    });
    return id;
  }

  private insertWorkItem(w: { instanceId: string; executionId: number; activityId: string; name: string; payload: Json }, visibleAt: number, now: number): StoredWorkItem {
    const id = String(++this.lastWorkItemId);
    const item: StoredWorkItem = {
      id, instanceId: w.instanceId, executionId: w.executionId, activityId: w.activityId, name: w.name, payload: w.payload,
      attempt: 0, enqueuedAt: now, visibleAt, lockToken: null, lockedUntil: 0,
    };
    this.workItems.set(id, item);
    return item;
  }

  private deadLetterMessage(id: string, reason: string, now: number): void {
    const m = this.messages.get(id)!;
    this.messages.delete(id);
    this.addDeadLetter('orchestrator', m.instanceId, reason, {
      id: m.id, kind: m.kind, payload: m.payload, executionId: m.executionId, timerId: m.timerId,
      attempt: m.attempt, enqueuedAt: m.enqueuedAt, visibleAt: m.visibleAt,
    }, now);
  }

  private addDeadLetter(queue: DeadLetter['queue'], instanceId: string, reason: string, item: Json, now: number): void {
    const id = String(++this.lastDeadLetterId);
    this.deadLetters.set(id, { id, queue, instanceId, reason, item, deadAt: now });
  }

  private withDescendants(roots: string[]): Set<string> {
    const found = new Set(roots);
    for (let grew = true; grew;) {
      grew = false;
      for (const r of this.instances.values()) {
        if (r.parent && found.has(r.parent.instanceId) && !found.has(r.instanceId)) {
          found.add(r.instanceId);
          grew = true;
        }
      }
    }
    return found;
  }

  /** Instances with executions, history, queued messages, work items and locks. Dead letters stay for inspection. */
  private deleteAll(ids: Set<string>): void {
    for (const id of ids) {
      this.instances.delete(id);
      this.executions.delete(id);
      this.locks.delete(id);
    }
    for (const m of [...this.messages.values()]) if (ids.has(m.instanceId)) this.messages.delete(m.id);
    for (const w of [...this.workItems.values()]) if (ids.has(w.instanceId)) this.workItems.delete(w.id);
  }
}

interface ActivityKey { instanceId: string; executionId: number; activityId: string }

function activityQueuedError(w: ActivityKey): InvalidArgumentError {
  return new InvalidArgumentError('an activity with this id is already queued for the execution', {
    instanceId: w.instanceId, executionId: w.executionId, activityId: w.activityId,
  });
}

function workItemJson(w: StoredWorkItem): Json {
  return {
    id: w.id, executionId: w.executionId, activityId: w.activityId, name: w.name, payload: w.payload,
    attempt: w.attempt, enqueuedAt: w.enqueuedAt,
  };
}

/** Code-unit order, the same as Postgres' "C" collation, so pages agree across providers. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
