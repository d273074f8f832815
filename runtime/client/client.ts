/**
 * The client: starts instances, sends them events and control messages, and reads their state.
 * It only enqueues messages and reads; the runtime's dispatchers do the work. Every argument is
 * validated before anything is written, so bad input raises a typed error and changes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { HistoryEvent, InstanceFilter, Json, OrchestratorMessageInput, Page, Provider, StartPayload } from '../../providers/contract.js';
import { InstanceNotFoundError, InvalidArgumentError } from '../../providers/errors.js';
import { assertJsonSafe } from '../../providers/json-safety.js';
import { UnknownOrchestrationError } from '../errors.js';
import { subscribeEmitted, type EmittedListener, type SubscribeOptions } from './emitted-events.js';
import { pendingStatus, statusFromRecord, type InstanceStatusView } from './instance-status.js';
import type { AnyDefinition, ContextOf, EmittedOf, EventOf, InputOf, OutputOf } from './machine-types.js';
import { waitForTerminalStatus } from './wait-for-completion.js';

/** Default limit for inputs and events: 256 KiB of serialized JSON (the runtime applies the same default). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;
const DEFAULT_WAIT_MS = 60_000;

export interface ClientOptions {
  provider: Provider;
  /** When given, `start` by name refuses names not among them (UnknownOrchestrationError). */
  orchestrations?: readonly AnyDefinition[];
  /** Largest serialized input or event accepted, in bytes. Default 256 KiB. */
  maxPayloadBytes?: number;
}

export interface StartOptions {
  /** Default: a random UUID. */
  instanceId?: string;
  /** Default: the newest version registered in the process that runs the first turn. */
  version?: string;
  /** Epoch ms: a scheduled start, invisible to dispatchers until then. */
  startAt?: number;
}

export interface Client {
  start<D extends AnyDefinition>(definition: D, input: InputOf<D>, opts?: StartOptions): Promise<{ instanceId: string }>;
  start(name: string, input: Json, opts?: StartOptions): Promise<{ instanceId: string }>;
  /** InstanceNotFoundError unless the instance exists or its start is queued. */
  raiseEvent<D extends AnyDefinition = AnyDefinition>(instanceId: string, event: EventOf<D>): Promise<void>;
  terminate(instanceId: string, reason?: string): Promise<void>;
  suspend(instanceId: string, reason?: string): Promise<void>;
  resume(instanceId: string): Promise<void>;
  /** Null when neither the instance nor a queued start exists. */
  getStatus<D extends AnyDefinition = AnyDefinition>(instanceId: string): Promise<InstanceStatusView<OutputOf<D>, ContextOf<D>> | null>;
  /** Resolves with the terminal status (completed, failed or terminated); WaitTimeoutError after `timeoutMs` (default 60 s). */
  waitForCompletion<D extends AnyDefinition = AnyDefinition>(instanceId: string, opts?: { timeoutMs?: number }): Promise<InstanceStatusView<OutputOf<D>, ContextOf<D>>>;
  /** Emitted events of the instance, in order, each once, from the start of its current execution on. Returns unsubscribe. */
  subscribe<D extends AnyDefinition = AnyDefinition>(instanceId: string, listener: EmittedListener<EmittedOf<D>>, opts?: SubscribeOptions): () => void;
  history(instanceId: string, opts?: { executionId?: number }): AsyncIterable<HistoryEvent>;
  list(filter?: InstanceFilter, page?: { cursor?: string | null; limit?: number }): Promise<Page<InstanceStatusView>>;
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string`, { what });
  return value;
}

function optionalReason(reason: unknown): Json {
  if (reason === undefined) return {};
  if (typeof reason !== 'string') throw new InvalidArgumentError('reason must be a string', { what: 'reason' });
  return { reason };
}

export function createClient(opts: ClientOptions): Client {
  const { provider } = opts;
  const maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const knownNames = opts.orchestrations ? new Set(opts.orchestrations.map((d) => d.name)) : null;

  const getStatus = async (instanceId: string): Promise<InstanceStatusView<never, never> | null> => {
    const record = await provider.getInstance(instanceId);
    if (record) return statusFromRecord(record);
    if (await provider.hasPendingStart(instanceId)) return pendingStatus(instanceId);
    // The first turn may have consumed the start between the two reads: look once more.
    const created = await provider.getInstance(instanceId);
    return created ? statusFromRecord(created) : null;
  };

  // Messages may be enqueued before the first turn (the provider keeps them for the start), but
  // not for an id nobody started: that would leave them queued forever.
  const send = async (msg: OrchestratorMessageInput) => {
    requireString(msg.instanceId, 'instanceId');
    if (!(await getStatus(msg.instanceId))) throw new InstanceNotFoundError(msg.instanceId);
    await provider.enqueueOrchestratorMessage(msg);
  };

  return {
    async start(nameOrDefinition: string | AnyDefinition, input: unknown, startOpts: StartOptions = {}) {
      const name = typeof nameOrDefinition === 'string' ? nameOrDefinition : nameOrDefinition?.name;
      requireString(name, 'orchestration name');
      if (knownNames && !knownNames.has(name)) throw new UnknownOrchestrationError(name);
      const instanceId = startOpts.instanceId === undefined ? randomUUID() : requireString(startOpts.instanceId, 'instanceId');
      if (startOpts.version !== undefined) requireString(startOpts.version, 'version');
      if (startOpts.startAt !== undefined && !Number.isFinite(startOpts.startAt)) {
        throw new InvalidArgumentError('startAt must be epoch milliseconds', { what: 'startAt' });
      }
      const payloadInput = input === undefined ? null : input; // machines without input
      assertJsonSafe(payloadInput, `input of '${name}'`, maxPayloadBytes);
      const payload: StartPayload = { name, input: payloadInput as Json, ...(startOpts.version !== undefined ? { version: startOpts.version } : {}) };
      await provider.enqueueOrchestratorMessage(
        { instanceId, kind: 'start', payload: payload as unknown as Json },
        startOpts.startAt !== undefined ? { visibleAt: startOpts.startAt } : undefined,
      );
      return { instanceId };
    },

    async raiseEvent(instanceId, event) {
      const e = event as unknown;
      if (typeof e !== 'object' || e === null || Array.isArray(e) || typeof (e as { type?: unknown }).type !== 'string' || (e as { type: string }).type.length === 0) {
        throw new InvalidArgumentError('an event must be an object with a non-empty string type', { what: 'event' });
      }
      const type = (e as { type: string }).type;
      // Results and timers arrive only through the runtime; a client must not forge them.
      if (type.startsWith('xstate.') || type.startsWith('durastate.')) {
        throw new InvalidArgumentError(`event type '${type}' is reserved`, { what: 'event', type });
      }
      assertJsonSafe(e, `event '${type}'`, maxPayloadBytes);
      await send({ instanceId, kind: 'event', payload: e as Json });
    },

    terminate: async (instanceId, reason) => send({ instanceId, kind: 'terminate', payload: optionalReason(reason) }),
    suspend: async (instanceId, reason) => send({ instanceId, kind: 'suspend', payload: optionalReason(reason) }),
    resume: async (instanceId) => send({ instanceId, kind: 'resume', payload: {} }),

    getStatus: (instanceId) => getStatus(requireString(instanceId, 'instanceId')),

    async waitForCompletion(instanceId, waitOpts = {}) {
      requireString(instanceId, 'instanceId');
      const timeoutMs = waitOpts.timeoutMs ?? DEFAULT_WAIT_MS;
      if (!(Number.isFinite(timeoutMs) && timeoutMs >= 0)) throw new InvalidArgumentError('timeoutMs must be a number >= 0', { what: 'timeoutMs' });
      return waitForTerminalStatus(provider, instanceId, () => getStatus(instanceId), timeoutMs);
    },

    subscribe(instanceId, listener, subOpts) {
      requireString(instanceId, 'instanceId');
      return subscribeEmitted(provider, instanceId, listener, subOpts);
    },

    history(instanceId, historyOpts = {}) {
      requireString(instanceId, 'instanceId');
      return provider.readHistory(instanceId, historyOpts.executionId !== undefined ? { executionId: historyOpts.executionId } : {});
    },

    async list(filter, page) {
      const result = await provider.listInstances(filter, page);
      return { items: result.items.map((r) => statusFromRecord(r)), nextCursor: result.nextCursor };
    },
  };
}
