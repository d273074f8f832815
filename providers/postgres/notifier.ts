/**
 * Wakes long-polling fetchers when work appears, from ONE dedicated LISTEN connection per process.
 *
 * Sources of a wake, each counted in `wakes` so tests can prove where a wake came from:
 * - 'notify':    a queue notification whose work (its earliest visible_at) is already due, by the
 *                 database's clock when the payload carries it, else by now();
 * - 'timer':     a future visible_at from a notification or the safety check came due (TimerHeap);
 * - 'safety':    the periodic safety check found due work that no notification announced;
 * - 'reconnect': the LISTEN connection came back (or listening was re-enabled): anything may have been missed;
 * - 'poll':      no LISTEN (disabled, down, or switched off): waiters return every pollIntervalMs;
 * - 'recheck':   the provider asked for it (recheck()): a notification came while one of its own
 *                 statements released instance locks, and the fetch it woke may have found one still held;
 * - 'timeout' / 'abort': the waiter's deadline passed / its signal aborted or the notifier closed.
 *
 * A fetcher reads `generation(queue)` before fetching and passes it as `since` to `wait`: a wake that
 * happened between the empty fetch and the wait then returns at once instead of being lost.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../errors.js';
import { MAX_TIMER_DELAY_MS, TimerHeap } from './timer-heap.js';

export type QueueName = 'orchestrator' | 'worker';
export type WakeReason = 'notify' | 'timer' | 'safety' | 'poll' | 'reconnect' | 'recheck' | 'timeout' | 'abort';
type Topic = QueueName | 'instance';

export interface NotifierOptions {
  /** The notifier opens its own dedicated pg.Client for LISTEN (a pooled client could be handed to someone else). */
  connectionString: string;
  /** An already validated identifier; channels are `${schema}.orchestrator`, `${schema}.worker`, `${schema}.instance`. */
  schema: string;
  /** false: no LISTEN connection at all; wait() returns 'poll' every pollIntervalMs (or 'timeout' at the deadline). */
  listen: boolean;
  pollIntervalMs: number;
  /** While listening: how often `safetyCheck` runs for each queue, to catch missed notifications. */
  safetyIntervalMs: number;
  /** Earliest visible_at in the queue, or null when it is empty (the provider supplies the SQL). */
  safetyCheck: (queue: QueueName) => Promise<number | null>;
  /** The provider's clock in ms (an injected test clock, or an estimate of the database clock). */
  now: () => number;
  /**
   * Present exactly when now() estimates the database clock: a notification's database time then
   * decides whether its work is due (no estimate involved) and is passed here to refresh the estimate.
   * Absent with an injected clock, whose times the database clock says nothing about.
   */
  observeDatabaseNow?: (databaseNow: number) => void;
  logger?: Logger;
}

/** Shows up in pg_stat_activity, so operators (and tests) can find the LISTEN backend. */
export const NOTIFIER_APPLICATION_NAME = 'durastate-notifier';

const QUEUES: readonly QueueName[] = ['orchestrator', 'worker'];
const TOPICS: readonly Topic[] = [...QUEUES, 'instance'];
/** PostgreSQL rejects channel names longer than NAMEDATALEN - 1 bytes. */
const MAX_CHANNEL_BYTES = 63;
const RECONNECT_BASE_MS = 100;
const RECONNECT_CAP_MS = 5_000;
/** A server that accepts TCP but never answers must not stall reconnection forever. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The NOTIFY channel of a topic; the provider's SQL must notify on exactly these names. */
export function channelName(schema: string, topic: Topic): string {
  return `${schema}.${topic}`;
}

/** Jittered exponential backoff ("equal jitter"): never zero, capped, and processes do not reconnect in lockstep. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** attempt);
  return ceiling / 2 + (random() * ceiling) / 2;
}

/**
 * A queue payload is `<visibleAt>/<databaseNow>` (what ds_notify sends), the same with `/<instanceId>`
 * after it (a lone enqueue's: the one instance its work is for; the id may itself hold '/'), or a bare
 * `<visibleAt>` (which the notifier also accepts, as ds_notify's comment promises), decimal epoch ms.
 * Null for anything else: it then means "due now" (waking early is harmless).
 */
export function parseQueuePayload(payload: string | undefined): { at: number; databaseNow: number | null; instanceId: string | null } | null {
  const text = payload ?? '';
  const number = (part: string) => (part.trim() === '' ? NaN : Number(part));
  const first = text.indexOf('/');
  if (first < 0) {
    const at = number(text);
    return Number.isFinite(at) ? { at, databaseNow: null, instanceId: null } : null;
  }
  const second = text.indexOf('/', first + 1);
  const at = number(text.slice(0, first));
  const databaseNow = number(second < 0 ? text.slice(first + 1) : text.slice(first + 1, second));
  const instanceId = second < 0 ? null : text.slice(second + 1);
  if (!Number.isFinite(at) || !Number.isFinite(databaseNow) || instanceId === '') return null;
  return { at, databaseNow, instanceId };
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

interface Waiter {
  /** (Re)compute the waiter's own timer for the current mode: polling or listening. */
  arm(): void;
  finish(reason: WakeReason): void;
}

interface QueueState {
  generation: number;
  /** Reported by `wait` when `since` shows a wake was missed: the reason of the event that bumped the generation. */
  lastReason: WakeReason;
  /** The instance the latest wake's work is for, when it was one notification that named one. */
  lastInstance: string | null;
  /** Wakes by a due notification so far. */
  notified: number;
  waiters: Set<Waiter>;
  timers: TimerHeap;
}

export class Notifier {
  readonly wakes: Record<WakeReason, number> = { notify: 0, timer: 0, safety: 0, poll: 0, reconnect: 0, recheck: 0, timeout: 0, abort: 0 };

  private readonly opts: NotifierOptions;
  private readonly log: Logger | undefined;
  private readonly topicByChannel: Map<string, Topic>;
  private readonly queues: Record<QueueName, QueueState>;
  private readonly instanceListeners = new Map<string, Set<(instanceId: string) => void>>();
  private client: pg.Client | undefined;
  private listeningEnabled = true;
  private started = false;
  private closed = false;
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private safetyTimer: NodeJS.Timeout | undefined;
  private safetyRunning = false;

  constructor(opts: NotifierOptions) {
    for (const key of ['pollIntervalMs', 'safetyIntervalMs'] as const) {
      if (!Number.isFinite(opts[key]) || opts[key] <= 0) {
        throw new InvalidArgumentError(`notifier ${key} must be a positive number, got ${opts[key]}`, { [key]: opts[key] });
      }
    }
    const longest = Buffer.byteLength(channelName(opts.schema, 'orchestrator'));
    if (opts.schema === '' || longest > MAX_CHANNEL_BYTES) {
      throw new InvalidArgumentError(`schema '${opts.schema}' makes NOTIFY channel names empty or longer than ${MAX_CHANNEL_BYTES} bytes`, {
        schema: opts.schema,
      });
    }
    this.opts = opts;
    this.log = opts.logger?.child({ component: 'notifier' });
    this.topicByChannel = new Map(TOPICS.map((topic) => [channelName(opts.schema, topic), topic]));
    const queueState = (queue: QueueName): QueueState => ({
      generation: 0,
      lastReason: 'poll',
      lastInstance: null,
      notified: 0,
      waiters: new Set(),
      timers: new TimerHeap(opts.now, () => this.wake(queue, 'timer')),
    });
    this.queues = { orchestrator: queueState('orchestrator'), worker: queueState('worker') };
  }

  /** Connect and LISTEN on all three channels; a no-op when listen=false. Rejects if the first connection fails. */
  async start(): Promise<void> {
    if (this.started || this.closed || !this.opts.listen) return;
    this.started = true;
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch (err) {
      this.started = false;
      throw err;
    }
    if (this.closed) return void (await client.end().catch(() => {}));
    this.client = client;
    this.rearmWaiters(); // waits registered before start were polling; they can now rely on notifications
    this.safetyTimer = setInterval(() => void this.safetyTick(), this.opts.safetyIntervalMs).unref();
  }

  generation(queue: QueueName): number {
    return this.queues[queue].generation;
  }

  /** How many due notifications of `queue` have woken it so far: compared before and after a statement, whether one came meanwhile. */
  notified(queue: QueueName): number {
    return this.queues[queue].notified;
  }

  /** Wake `queue` as a notification would, for work the provider knows may have been left unfetched. */
  recheck(queue: QueueName): void {
    this.wake(queue, 'recheck');
  }

  /**
   * The instance that all of `queue`'s work announced after generation `since` is for: known when
   * exactly one wake happened since, and it was a notification naming one instance (a lone enqueue's).
   * Null otherwise: several wakes, a timer, a safety check, a reconnect, or a group's notification.
   */
  instanceSince(queue: QueueName, since: number): string | null {
    const state = this.queues[queue];
    return state.generation === since + 1 ? state.lastInstance : null;
  }

  /**
   * Resolve on the next wake of `queue`, at `deadline` (in now() terms) with 'timeout', or with 'abort'.
   * With `since` older than the current generation it returns at once with the reason of the latest wake.
   */
  wait(queue: QueueName, opts: { deadline: number; since?: number; signal?: AbortSignal }): Promise<WakeReason> {
    const { deadline, since, signal } = opts;
    const state = this.queues[queue];
    if (this.closed || signal?.aborted) return Promise.resolve(this.count('abort'));
    if (since !== undefined && state.generation > since) return Promise.resolve(this.count(state.lastReason));
    if (deadline <= this.opts.now()) return Promise.resolve(this.count('timeout'));

    return new Promise<WakeReason>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const onAbort = (): void => waiter.finish('abort');
      const waiter: Waiter = {
        arm: () => {
          clearTimeout(timer);
          const remaining = Math.max(0, deadline - this.opts.now());
          const pollFirst = !this.isListening() && this.opts.pollIntervalMs < remaining;
          const delay = pollFirst ? this.opts.pollIntervalMs : remaining;
          // The deadline timer stays ref'd: a caller awaiting wait() keeps the process alive, like a sleep.
          timer =
            delay > MAX_TIMER_DELAY_MS
              ? setTimeout(waiter.arm, MAX_TIMER_DELAY_MS)
              : setTimeout(() => waiter.finish(pollFirst ? 'poll' : 'timeout'), delay);
        },
        finish: (reason) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          state.waiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve(this.count(reason));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      state.waiters.add(waiter);
      waiter.arm();
    });
  }

  /** Call `listener` on every notification for `instanceId` (and after a reconnect). Returns the unsubscribe function. */
  watchInstance(instanceId: string, listener: (instanceId: string) => void): () => void {
    let listeners = this.instanceListeners.get(instanceId);
    if (!listeners) this.instanceListeners.set(instanceId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.instanceListeners.get(instanceId) === listeners) this.instanceListeners.delete(instanceId);
    };
  }

  /**
   * Fault injection: off ignores every notification and waits poll; on wakes everyone with 'reconnect',
   * because work announced while notifications were ignored would otherwise wait for the safety check.
   */
  setListening(on: boolean): void {
    if (on === this.listeningEnabled) return;
    this.listeningEnabled = on;
    if (on && this.isListening()) this.wakeEverything('reconnect');
    else this.rearmWaiters();
  }

  /** Stop timers and the connection, resolve pending waits with 'abort'. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.safetyTimer);
    clearTimeout(this.reconnectTimer);
    for (const queue of QUEUES) {
      const state = this.queues[queue];
      state.timers.clear();
      for (const waiter of [...state.waiters]) waiter.finish('abort');
    }
    this.instanceListeners.clear();
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch((err: unknown) => this.log?.warn({ err }, 'closing the LISTEN connection failed'));
  }

  /** True while notifications arrive (LISTEN connected and not switched off): only then does silence mean "nothing new". */
  isListening(): boolean {
    return this.opts.listen && this.listeningEnabled && this.client !== undefined;
  }

  private count(reason: WakeReason): WakeReason {
    this.wakes[reason]++;
    return reason;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.opts.connectionString,
      application_name: NOTIFIER_APPLICATION_NAME,
      keepAlive: true, // an idle LISTEN socket would otherwise never notice a silently dead peer
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    // Attached before connecting: an unhandled 'error' event would crash the process.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => this.onNotification(msg.channel, msg.payload));
    try {
      await client.connect();
      // LISTEN takes no parameters; the channel names come from a validated schema identifier and are quoted.
      await client.query(TOPICS.map((topic) => `LISTEN ${quoteIdentifier(channelName(this.opts.schema, topic))}`).join('; '));
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  /** The current LISTEN connection failed or ended: poll meanwhile, and reconnect with backoff. */
  private lost(client: pg.Client, err?: Error): void {
    if (client !== this.client) return; // a connection being set up, already replaced, or closed on purpose
    this.client = undefined;
    void client.end().catch(() => {});
    this.log?.warn({ err }, 'LISTEN connection lost; polling until it is back');
    this.rearmWaiters();
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = reconnectDelayMs(this.reconnectAttempt++);
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay).unref();
  }

  private async reconnect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch (err) {
      this.log?.warn({ err, attempt: this.reconnectAttempt }, 'LISTEN reconnection failed');
      this.scheduleReconnect();
      return;
    }
    if (this.closed) return void (await client.end().catch(() => {}));
    this.client = client;
    this.reconnectAttempt = 0;
    this.log?.info('LISTEN connection restored');
    // Notifications sent while disconnected are lost for good: everyone re-checks.
    this.wakeEverything('reconnect');
  }

  private onNotification(channel: string, payload: string | undefined): void {
    if (!this.listeningEnabled || this.closed) return;
    const topic = this.topicByChannel.get(channel);
    if (topic === undefined) return;
    if (topic === 'instance') {
      if (payload) this.callInstanceListeners(payload);
      return;
    }
    const note = parseQueuePayload(payload);
    if (note === null) return this.wake(topic, 'notify');
    const observe = this.opts.observeDatabaseNow;
    if (observe && note.databaseNow !== null) {
      observe(note.databaseNow);
      // The database's own verdict: the estimate behind now() lags, and would send due work to a timer.
      if (note.at <= note.databaseNow) return this.wake(topic, 'notify', note.instanceId);
    }
    if (note.at <= this.opts.now()) this.wake(topic, 'notify', note.instanceId);
    else this.queues[topic].timers.add(note.at);
  }

  /** Bump the generation and wake every waiter of the queue at once; fetchers then compete through SKIP LOCKED. */
  private wake(queue: QueueName, reason: WakeReason, instanceId: string | null = null): void {
    const state = this.queues[queue];
    state.generation++;
    if (reason === 'notify') state.notified++;
    state.lastReason = reason;
    state.lastInstance = instanceId;
    for (const waiter of [...state.waiters]) waiter.finish(reason);
  }

  private wakeEverything(reason: WakeReason): void {
    for (const queue of QUEUES) this.wake(queue, reason);
    for (const instanceId of [...this.instanceListeners.keys()]) this.callInstanceListeners(instanceId);
  }

  private rearmWaiters(): void {
    for (const queue of QUEUES) for (const waiter of this.queues[queue].waiters) waiter.arm();
  }

  private callInstanceListeners(instanceId: string): void {
    for (const listener of [...(this.instanceListeners.get(instanceId) ?? [])]) {
      try {
        listener(instanceId);
      } catch (err) {
        this.log?.error({ err, instanceId }, 'instance listener threw');
      }
    }
  }

  /** Catches notifications lost without a reconnect (e.g. sent by a path that forgot to NOTIFY). Never overlaps itself. */
  private async safetyTick(): Promise<void> {
    if (this.safetyRunning || !this.isListening()) return;
    this.safetyRunning = true;
    try {
      for (const queue of QUEUES) {
        try {
          const at = await this.opts.safetyCheck(queue);
          if (this.closed) return;
          if (at === null) continue;
          if (at <= this.opts.now()) this.wake(queue, 'safety');
          else this.queues[queue].timers.add(at);
        } catch (err) {
          this.log?.error({ err, queue }, 'notifier safety check failed');
        }
      }
    } finally {
      this.safetyRunning = false;
    }
  }
}
