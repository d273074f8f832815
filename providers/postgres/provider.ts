/**
 * The PostgreSQL provider: every contract method is one round trip to a stored function of
 * schema/migrations/001_init.sql (called as a named prepared statement), except reads that are one
 * plain statement. Arguments are checked here with the checks the reference model uses
 * (providers/arguments.ts), so both providers refuse exactly the same input before anything is written.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Logger } from 'pino';
import type {
  AbandonOptions, AckOptions, DeadLetter, FetchOptions, HistoryEvent, InstanceChangeListener, InstanceFilter, InstanceRecord,
  OrchestrationDelta, OrchestrationItem, OrchestratorMessageInput, Page, Provider, QueueDepths, WorkItem,
  WorkItemAckOptions,
} from '../contract.js';
import type { Clock } from '../clock.js';
import { InstanceNotFoundError, InvalidArgumentError, LockLostError, OutcomeUnknownError } from '../errors.js';
import {
  abandonArgs, ackOptionsArgs, checkedJson, deltaArgs, fetchArgs, filterArgs, messageArgs, pageArgs, requireId, requireInteger, requireObject,
  requirePositiveMs, requireTime, workAckOptionsArgs, type FetchArgs,
} from '../arguments.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { toProviderError } from './errors.js';
import { GroupCommit, type Outcome } from './group-commit.js';
import { PostgresFaults } from './faults.js';
import { Notifier, type QueueName } from './notifier.js';
import { statements, type Statement, type Statements } from './statements.js';
import { deltaWire, messageWire, withoutNulls } from './wire.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A bigint row id as text (message and dead-letter ids); anything else names no row. */
const ROW_ID = /^\d{1,18}$/;
const HISTORY_BATCH = 200;
/** Group commit (acks, enqueues): batches in flight at once per kind (each holds a connection). */
const GROUPS_IN_FLIGHT = 2;
/**
 * Entries per batch unless the provider is opened with another `groupSize`. 50, not 100, for a
 * dispatcher of concurrency 100: a fetch of 100 turns then commits as two statements that the
 * server runs side by side while the dispatcher waits (throughput benchmark, 8 interleaved pairs:
 * +7% turns/s; fan-out and idle wake-ups unchanged).
 */
export const DEFAULT_GROUP_SIZE = 50;

export interface PostgresProviderInit {
  pool: pg.Pool;
  /** Close the pool on close() (the provider made it). */
  ownsPool: boolean;
  connectionString: string;
  schema: string;
  clock?: Clock;
  listen: boolean;
  pollIntervalMs: number;
  safetyIntervalMs: number;
  /** Entries per group-commit statement. */
  groupSize: number;
  logger?: Logger;
}

/** Times go to bigint columns: round toward "not earlier than asked". */
const ms = (value: number): number => Math.ceil(value);

export class PostgresProvider implements Provider {
  readonly schema: string;
  readonly notifier: Notifier;
  readonly faults: PostgresFaults;

  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly connectionString: string;
  private readonly clock: Clock | undefined;
  private readonly sql: Statements;
  private readonly log: Logger | undefined;
  /** Database clock minus local clock: lets the notifier estimate the provider clock without a query. */
  private clockOffsetMs = 0;
  /** Per queue: the notifier generation before the last fetch that returned fewer items than asked; null after a full one. */
  private readonly drained: Record<QueueName, number | null> = { orchestrator: null, worker: null };
  /**
   * Acks waiting for (or riding in) a group commit, each already serialised: the arguments are
   * checked, not copied, so they are turned into JSON before the call returns to its caller, who may
   * change its objects while the ack waits. The captured `now` keeps each ack's own provider time.
   */
  private readonly orchestrationAcks: GroupCommit<string, unknown>;
  private readonly workAcks: GroupCommit<string, unknown>;
  /** Enqueues (client starts and events) go in groups too; the ack-drop fault is for acks only. */
  private readonly enqueues: GroupCommit<string, unknown>;
  private closed = false;

  constructor(init: PostgresProviderInit) {
    this.schema = init.schema;
    this.pool = init.pool;
    this.ownsPool = init.ownsPool;
    this.connectionString = init.connectionString;
    this.clock = init.clock;
    this.sql = statements(init.schema);
    this.orchestrationAcks = new GroupCommit(
      (acks) => this.releasingInstances(() => this.sendAcks(this.sql.ackOrchestrations, acks, 'workItems')),
      GROUPS_IN_FLIGHT,
      init.groupSize,
    );
    this.workAcks = new GroupCommit((acks) => this.sendAcks(this.sql.ackWorks, acks, 'item'), GROUPS_IN_FLIGHT, init.groupSize);
    this.enqueues = new GroupCommit((msgs) => this.sendEnqueues(msgs), GROUPS_IN_FLIGHT, init.groupSize);
    this.log = init.logger?.child({ component: 'postgres-provider', schema: init.schema });
    this.notifier = new Notifier({
      connectionString: init.connectionString,
      schema: init.schema,
      listen: init.listen,
      pollIntervalMs: init.pollIntervalMs,
      safetyIntervalMs: init.safetyIntervalMs,
      safetyCheck: (queue) => this.nextVisibleAt(queue),
      now: () => this.estimateNow(),
      ...(init.clock ? {} : { observeDatabaseNow: (databaseNow: number) => this.observeNow(databaseNow) }),
      ...(init.logger ? { logger: init.logger } : {}),
    });
    this.faults = new PostgresFaults(this.notifier);
  }

  /** Called once by openPostgresProvider: learn the database clock, start listening. */
  async start(): Promise<void> {
    if (!this.clock) this.observeNow(Number(await this.query(this.sql.now, [])));
    await this.notifier.start();
  }

  // ------------------------------------------------------------ orchestrator queue

  async enqueueOrchestratorMessage(msg: OrchestratorMessageInput, opts?: { visibleAt?: number }): Promise<{ id: string }> {
    const args = messageArgs(msg, 'message', checkedJson);
    const visibleAt = opts?.visibleAt === undefined ? null : ms(requireTime(opts.visibleAt, 'visibleAt'));
    const entry = withoutNulls({ now: this.nowParam(), msg: messageWire(args), visibleAt }, ['now', 'visibleAt']);
    const id = await this.enqueues.submit(JSON.stringify(entry));
    return { id: String(id) };
  }

  async fetchOrchestrationItems(opts: FetchOptions): Promise<OrchestrationItem[]> {
    return this.fetchItems<OrchestrationItem>('orchestrator', this.sql.fetchOrchestration, opts, this.sql.fetchOrchestrationInstance);
  }

  async ackOrchestrationItem(lockToken: string, delta: OrchestrationDelta, opts?: AckOptions): Promise<WorkItem[]> {
    const args = deltaArgs(delta, checkedJson);
    const lockWork = ackOptionsArgs(opts);
    const keep = new Set(args.keepMessageIds);
    const dead = new Set(args.deadLetterMessageIds);
    if (keep.size !== args.keepMessageIds.length || dead.size !== args.deadLetterMessageIds.length || [...keep].some((id) => dead.has(id))) {
      throw new InvalidArgumentError('keepMessageIds and deadLetterMessageIds must be distinct fetched ids');
    }
    if ([...keep, ...dead].some((id) => !ROW_ID.test(id))) {
      throw new InvalidArgumentError('keepMessageIds and deadLetterMessageIds must be messages fetched with this lock');
    }
    const token = this.token(lockToken);
    const body = deltaWire({
      ...args,
      messages: args.messages.map((m) => ({ ...m, visibleAt: m.visibleAt === null ? null : ms(m.visibleAt) })),
      timers: args.timers.map((t) => ({ ...t, fireAt: ms(t.fireAt) })),
      workItems: args.workItems.map((w) => ({ ...w, visibleAt: w.visibleAt === null ? null : ms(w.visibleAt) })),
    });
    const entry = withoutNulls({ now: this.nowParam(), token, delta: body, lockWork: lockWork ? { ...lockWork, lockMs: ms(lockWork.lockMs) } : null }, ['now', 'lockWork']);
    return (await this.orchestrationAcks.submit(JSON.stringify(entry))) as WorkItem[];
  }

  async abandonOrchestrationItem(lockToken: string, opts?: AbandonOptions): Promise<void> {
    await this.releasingInstances(() => this.abandon(this.sql.abandonOrchestration, lockToken, opts));
  }

  async renewOrchestrationLock(lockToken: string, lockMs: number): Promise<number> {
    return this.renew(this.sql.renewOrchestration, lockToken, lockMs);
  }

  // ------------------------------------------------------------ worker queue

  async fetchWorkItems(opts: FetchOptions): Promise<WorkItem[]> {
    return this.fetchItems<WorkItem>('worker', this.sql.fetchWork, opts);
  }

  async ackWorkItem(lockToken: string, result: OrchestratorMessageInput, opts?: WorkItemAckOptions): Promise<OrchestrationItem | null> {
    const args = messageArgs(result, 'result', checkedJson);
    const { deadLetterReason, lockInstance } = workAckOptionsArgs(opts);
    const body = messageWire({ ...args, visibleAt: args.visibleAt === null ? null : ms(args.visibleAt) });
    const entry = withoutNulls({
      now: this.nowParam(), token: this.token(lockToken), result: body, deadLetterReason,
      lockInstance: lockInstance ? { ...lockInstance, lockMs: ms(lockInstance.lockMs) } : null,
    }, ['now', 'deadLetterReason', 'lockInstance']);
    const item = (await this.workAcks.submit(JSON.stringify(entry))) as OrchestrationItem | undefined;
    if (item) this.observeNow(item.now);
    return item ?? null;
  }

  async abandonWorkItem(lockToken: string, opts?: AbandonOptions): Promise<void> {
    await this.abandon(this.sql.abandonWork, lockToken, opts);
  }

  async renewWorkItemLock(lockToken: string, lockMs: number): Promise<number> {
    return this.renew(this.sql.renewWork, lockToken, lockMs);
  }

  // ------------------------------------------------------------ reads

  async getInstance(instanceId: string): Promise<InstanceRecord | null> {
    const record = await this.query(this.sql.getInstance, [requireId(instanceId, 'instanceId')]);
    return (record as InstanceRecord | undefined) ?? null;
  }

  async listInstances(filter?: InstanceFilter, page?: { cursor?: string | null; limit?: number }): Promise<Page<InstanceRecord>> {
    const f = filterArgs(filter);
    const { cursor, limit } = pageArgs(page);
    const after = cursor === null ? null : (decodeCursor(cursor, ['number', 'string']) as [number, string]);
    const rows = (await this.queryRows(this.sql.listInstances, [
      f.status ?? null, f.name ?? null, f.createdFrom ?? null, f.createdTo ?? null, f.parentInstanceId ?? null,
      after?.[0] ?? null, after?.[1] ?? null, limit + 1,
    ])) as InstanceRecord[];
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.createdAt, last.instanceId]) : null };
  }

  /** Streams with a server-side cursor on one pooled connection, held until the iteration ends. */
  async *readHistory(instanceId: string, opts?: { executionId?: number; fromSeq?: number }): AsyncIterable<HistoryEvent> {
    requireId(instanceId, 'instanceId');
    const o = opts === undefined ? {} : requireObject(opts, 'history options');
    const executionId = o.executionId === undefined ? undefined : requireInteger(o.executionId, 1, 'executionId');
    const fromSeq = o.fromSeq === undefined ? 0 : requireInteger(o.fromSeq, 0, 'fromSeq');
    const current = await this.query(this.sql.currentExecution, [instanceId]);
    if (current === undefined) throw new InstanceNotFoundError(instanceId);
    await this.faults.beforeQuery();
    const client = await this.connect();
    let broken: Error | undefined;
    const cursor = client.query(new Cursor(this.sql.history, [instanceId, executionId ?? current, fromSeq]));
    try {
      for (;;) {
        let rows: Array<{ instance_id: string; execution_id: number; seq: number; type: string; data: HistoryEvent['data']; at: string }>;
        try {
          rows = await cursor.read(HISTORY_BATCH);
        } catch (err) {
          throw (broken = toProviderError(err));
        }
        if (rows.length === 0) break;
        for (const r of rows) {
          yield { instanceId: r.instance_id, executionId: r.execution_id, seq: r.seq, type: r.type, data: r.data, at: Number(r.at) };
        }
      }
    } finally {
      // Closing the portal before releasing: the consumer may stop early (break) mid-stream.
      await cursor.close().catch(() => {});
      client.release(broken);
    }
  }

  async hasPendingStart(instanceId: string): Promise<boolean> {
    return (await this.query(this.sql.hasPendingStart, [requireId(instanceId, 'instanceId')])) === true;
  }

  async queueDepths(): Promise<QueueDepths> {
    return (await this.query(this.sql.queueDepths, [this.nowParam()])) as QueueDepths;
  }

  async listDeadLetters(page?: { cursor?: string | null; limit?: number }): Promise<Page<DeadLetter>> {
    const { cursor, limit } = pageArgs(page);
    const after = cursor === null ? '0' : String(decodeCursor(cursor, ['string'])[0]);
    if (!ROW_ID.test(after)) throw new InvalidArgumentError('page cursor is not one this provider issued', { cursor });
    const rows = (await this.queryRows(this.sql.listDeadLetters, [after, limit + 1])) as DeadLetter[];
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
  }

  // ------------------------------------------------------------ admin

  async deleteInstance(instanceId: string, opts?: { force?: boolean }): Promise<number> {
    requireId(instanceId, 'instanceId');
    const o = opts === undefined ? {} : requireObject(opts, 'delete options');
    if (o.force !== undefined && typeof o.force !== 'boolean') throw new InvalidArgumentError('force must be a boolean');
    return Number(await this.query(this.sql.deleteInstance, [instanceId, o.force === true]));
  }

  async pruneExecutions(instanceId: string, opts?: { keep?: number }): Promise<number> {
    requireId(instanceId, 'instanceId');
    const o = opts === undefined ? {} : requireObject(opts, 'prune options');
    const keep = o.keep === undefined ? 1 : requireInteger(o.keep, 1, 'keep');
    return Number(await this.query(this.sql.pruneExecutions, [instanceId, keep]));
  }

  async purge(completedBefore: number): Promise<number> {
    const before = ms(requireTime(completedBefore, 'completedBefore'));
    return Number(await this.query(this.sql.purge, [before]));
  }

  async redriveDeadLetter(id: string): Promise<void> {
    requireId(id, 'id');
    if (!ROW_ID.test(id)) throw new InvalidArgumentError(`dead letter '${id}' does not exist`, { id }, 'DEAD_LETTER_NOT_FOUND');
    await this.query(this.sql.redrive, [this.nowParam(), id]);
  }

  // ------------------------------------------------------------ notifications and lifecycle

  watchInstance(instanceId: string, listener: InstanceChangeListener): () => void {
    requireId(instanceId, 'instanceId');
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function');
    return this.notifier.watchInstance(instanceId, listener);
  }

  async now(): Promise<number> {
    if (this.clock) return this.clock.now();
    const now = Number(await this.query(this.sql.now, []));
    this.observeNow(now);
    return now;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.notifier.close();
    if (this.ownsPool) await this.pool.end();
  }

  // ------------------------------------------------------------ internals

  /** The injected clock's time, or NULL: the stored functions then read the database clock. */
  private nowParam(): number | null {
    return this.clock ? Math.floor(this.clock.now()) : null;
  }

  private estimateNow(): number {
    return this.clock ? this.clock.now() : Date.now() + this.clockOffsetMs;
  }

  private observeNow(databaseNow: number): void {
    if (!this.clock) this.clockOffsetMs = databaseNow - Date.now();
  }

  /** A malformed token cannot hold any lock. */
  private token(lockToken: string): string {
    requireId(lockToken, 'lockToken');
    if (!UUID.test(lockToken)) throw new LockLostError(undefined, { lockToken });
    return lockToken;
  }

  /**
   * Both queues' fetch: the items locked for the caller, or a long-poll until some are. `oneInstance`
   * (the orchestrator queue's) fetches a single named instance, for wakes that name the only new work.
   */
  private fetchItems<T extends { now: number }>(queue: QueueName, stmt: Statement, opts: FetchOptions, oneInstance?: Statement): Promise<T[]> {
    const args = fetchArgs(opts);
    const owner = opts.owner ?? null;
    const run = async (s: Statement, values: unknown[]): Promise<T[]> => {
      const items = (await this.query(s, values)) as T[];
      if (items[0]) this.observeNow(items[0].now);
      return items;
    };
    const fetchInstance = oneInstance && ((instanceId: string) => run(oneInstance, [this.nowParam(), ms(args.lockMs), owner, instanceId]));
    return this.longPoll(queue, args, () => run(stmt, [this.nowParam(), ms(args.lockMs), args.max, owner]), fetchInstance);
  }

  /**
   * Run a statement that releases instance locks (acks of turns, an abandon). It wakes fetchers for
   * the messages its instances got meanwhile, but its look for them cannot see one committed after
   * the look and before the release commits; that message's own notification then woke fetchers while
   * the lock was still held, and the fetch found the instance locked and counted the queue drained:
   * nothing would fetch it until the long-poll's deadline (pollWaitMs; seen as 5 s stalls of a fan-out
   * whose results kept coming during its turns). Such a notification reaches this process while the
   * statement is out or after it returns, when the lock is gone: in the first case the queue is
   * woken again here. Only this process's fetchers are; they suffice, as one fetch finds the instance.
   */
  private async releasingInstances<T>(run: () => Promise<T>): Promise<T> {
    const before = this.notifier.notified('orchestrator');
    try {
      return await run();
    } finally {
      if (this.notifier.notified('orchestrator') !== before) this.notifier.recheck('orchestrator');
    }
  }

  private async abandon(stmt: Statement, lockToken: string, opts: AbandonOptions | undefined): Promise<void> {
    const { delayMs, countAttempt } = abandonArgs(opts);
    await this.query(stmt, [this.nowParam(), this.token(lockToken), ms(delayMs), countAttempt]);
  }

  /** The new lockedUntil. */
  private async renew(stmt: Statement, lockToken: string, lockMs: number): Promise<number> {
    const duration = ms(requirePositiveMs(lockMs, 'lockMs'));
    return Number(await this.query(stmt, [this.nowParam(), this.token(lockToken), duration]));
  }

  private async nextVisibleAt(queue: QueueName): Promise<number | null> {
    const at = await this.query(this.sql.nextVisibleAt, [queue]);
    return at === null || at === undefined ? null : Number(at);
  }

  /**
   * Fetch at once; with waitMs, wait for the notifier (a NOTIFY, a due timer, the safety check or a
   * poll) and fetch again, until the deadline. A long-poll skips its first query when the last
   * fetch of the queue came back short and no wake happened since: that query would find nothing
   * (anything committed after it notified, and future visibility is on the notifier's timers), and
   * it was a whole round trip per turn, since dispatchers ask again as soon as they get an item.
   * By the same reasoning, a wake by one notification that names one instance (a lone enqueue's,
   * 013_wake_before_flush.sql) after such a short fetch announces all there is new: `fetchInstance`
   * then locks that instance alone, without the full fetch's scans of the queue, and the queue counts
   * as drained again whatever it found (another fetcher may have taken it first).
   * Both only while listening and on the database clock (an injected clock moves without notifications);
   * the query at the wait's deadline still runs, so expired locks of crashed processes are taken over. The deadline is real elapsed time, like the memory
   * model's: an injected clock that does not move must not make a long-poll endless.
   */
  private async longPoll<T>(
    queue: QueueName,
    args: FetchArgs,
    fetchOnce: () => Promise<T[]>,
    fetchInstance?: (instanceId: string) => Promise<T[]>,
  ): Promise<T[]> {
    const realDeadline = Date.now() + args.waitMs;
    const silenceMeansNothingNew = () => this.notifier.isListening() && !this.clock;
    let skip = args.waitMs > 0 && this.drained[queue] === this.notifier.generation(queue) && silenceMeansNothingNew();
    let named: string | null = null;
    for (;;) {
      if (args.signal?.aborted || this.closed) return [];
      const since = this.notifier.generation(queue);
      let found: T[] = [];
      if (named !== null && fetchInstance) {
        found = await fetchInstance(named);
        this.drained[queue] = since;
      } else if (!skip) {
        found = await fetchOnce();
        this.drained[queue] = found.length < args.max ? since : null;
      }
      skip = false;
      named = null;
      const remaining = realDeadline - Date.now();
      if (found.length > 0 || remaining <= 0) return found;
      const reason = await this.notifier.wait(queue, {
        deadline: this.estimateNow() + remaining,
        since,
        ...(args.signal ? { signal: args.signal } : {}),
      });
      if (reason === 'abort') return [];
      if (fetchInstance && this.drained[queue] === since && silenceMeansNothingNew()) named = this.notifier.instanceSince(queue, since);
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw toProviderError(err);
    }
  }

  private async queryRows(stmt: Statement, values: unknown[]): Promise<unknown[]> {
    await this.faults.beforeQuery();
    try {
      const result = await this.pool.query({ name: stmt.name, text: stmt.text, values });
      return result.rows.map((row: { r: unknown }) => row.r);
    } catch (err) {
      throw toProviderError(err);
    }
  }

  /** The single value `r` of a one-row statement (undefined when no row). */
  private async query(stmt: Statement, values: unknown[]): Promise<unknown> {
    return (await this.queryRows(stmt, values))[0];
  }

  /**
   * A group of enqueues as one statement; a lone one (an idle system) through the one-message
   * function, whose few statements wake an event's fetcher sooner than the group's bookkeeping.
   */
  private async sendEnqueues(msgs: string[]): Promise<Array<Outcome<unknown>>> {
    if (msgs.length > 1) return this.sendGroup((values) => this.query(this.sql.enqueueMany, values), msgs, 'id');
    try {
      return [{ ok: true, value: await this.query(this.sql.enqueue, msgs) }];
    } catch (error) {
      return [{ ok: false, error }];
    }
  }

  /** One group commit of acks (subject to the ack-drop fault). */
  private sendAcks(stmt: Statement, acks: string[], field?: string): Promise<Array<Outcome<unknown>>> {
    return this.sendGroup((values) => this.ackQuery(stmt, values), acks, field);
  }

  /**
   * One group commit: the serialised entries as one statement, each answered with its own outcome
   * (its value `field` of the row's entry, or its error mapped as if it had been raised alone).
   */
  private async sendGroup(run: (values: unknown[]) => Promise<unknown>, entries: string[], field?: string): Promise<Array<Outcome<unknown>>> {
    const results = (await run([`[${entries.join(',')}]`])) as Array<{ error?: GroupEntryError } & Record<string, unknown>>;
    return results.map((r) => (r.error ? { ok: false, error: toProviderError(groupEntryError(r.error)) } : { ok: true, value: field ? r[field] : undefined }));
  }

  /** A statement, or, once after faults.dropConnectionDuringNextAck(), one whose connection is killed right after sending. */
  private async ackQuery(stmt: Statement, values: unknown[]): Promise<unknown> {
    if (!this.faults.takeAckDrop()) return this.query(stmt, values);
    await this.faults.beforeQuery();
    const killer = new pg.Client({ connectionString: this.connectionString });
    const client = await this.connect();
    // The kill surfaces as the query's rejection; an 'error' event must not crash the process.
    client.on('error', () => {});
    killer.on('error', () => {});
    let failure: unknown;
    let result: unknown;
    try {
      await killer.connect();
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const ack = client.query({ name: stmt.name, text: stmt.text, values });
      const kill = killer.query('SELECT pg_terminate_backend($1)', [pid]);
      const [acked] = await Promise.allSettled([ack, kill]);
      if (acked.status === 'rejected') failure = acked.reason;
      else result = (acked.value.rows[0] as { r: unknown } | undefined)?.r;
    } finally {
      client.release(true); // never reuse a connection we killed
      await killer.end().catch(() => {});
    }
    if (failure !== undefined) {
      const mapped = toProviderError(failure);
      this.log?.warn({ err: mapped }, 'ack connection dropped by fault injection');
      throw mapped instanceof OutcomeUnknownError ? mapped : new OutcomeUnknownError('connection dropped during ack', {}, { cause: failure });
    }
    return result;
  }
}

/** The error of one entry of a group commit, as the group function reports it (ds_error_json). */
interface GroupEntryError {
  code: string;
  message: string;
  detail: string | null;
  constraint: string | null;
}

/** Rebuilt in the shape `pg` gives a raised error, so one mapping (toProviderError) serves both paths. */
function groupEntryError(e: GroupEntryError): Error {
  return Object.assign(new Error(e.message), { code: e.code, detail: e.detail ?? undefined, constraint: e.constraint ?? undefined });
}
