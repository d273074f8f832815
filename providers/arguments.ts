/**
 * Argument checks shared by the built-in providers, so both refuse exactly the same input.
 * Each returns a normalised deep copy, so a provider validates everything before writing
 * anything and never stores a caller's object.
 */
import type {
  AbandonOptions, AckOptions, WorkItemAckOptions, ErrorInfo, FetchOptions, HistoryEventInput, InstanceFilter, InstanceWrite,
  OrchestrationDelta, OrchestratorMessageKind, ParentRef, TimerInput, WorkItemInput,
} from './contract.js';
import type { InstanceStatus, Json } from './types.js';
import { InvalidArgumentError } from './errors.js';
import { assertJsonSafe, jsonCopy } from './json-safety.js';

/**
 * How a JSON field is taken once it is checked: copied (jsonCopy, the default: a provider that keeps
 * the caller's objects must not share them), or as it is (checkedJson: a provider that serialises the
 * arguments before it returns to the caller, where a copy would only be thrown away).
 */
export type TakeJson = (value: unknown, what: string) => Json;

export const checkedJson: TakeJson = (value, what) => {
  assertJsonSafe(value, what);
  return value;
};

export const MESSAGE_KINDS: readonly OrchestratorMessageKind[] = [
  'start', 'event', 'activityCompleted', 'activityFailed', 'activityResults', 'timerFired',
  'childCompleted', 'childFailed', 'terminate', 'suspend', 'resume',
];
const STATUSES: readonly InstanceStatus[] = ['running', 'suspended', 'completed', 'failed', 'terminated'];

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new InvalidArgumentError(message, details);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) fail(`${what} must be an object`, { what });
  return value;
}

export function requireId(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${what} must be a non-empty string`, { what, value });
  return value;
}

export function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} must be a string`, { what, value });
  return value;
}

export function requireTime(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${what} must be a finite number of ms`, { what, value });
  return value;
}

export function requirePositiveMs(value: unknown, what: string): number {
  if (requireTime(value, what) <= 0) fail(`${what} must be > 0`, { what, value });
  return value as number;
}

export function requireNonNegativeMs(value: unknown, what: string): number {
  if (requireTime(value, what) < 0) fail(`${what} must be >= 0`, { what, value });
  return value as number;
}

export function requireInteger(value: unknown, min: number, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(`${what} must be an integer >= ${min}`, { what, value });
  }
  return value;
}

function requireStringArray(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) fail(`${what} must be an array of strings`, { what });
  return value.map((v, i) => requireId(v, `${what}[${i}]`));
}

export interface FetchArgs { lockMs: number; waitMs: number; max: number; signal: AbortSignal | undefined }

export function fetchArgs(opts: FetchOptions): FetchArgs {
  const o = requireObject(opts, 'fetch options');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('signal must be an AbortSignal');
  if (o.owner !== undefined) requireString(o.owner, 'owner');
  return {
    lockMs: requirePositiveMs(o.lockMs, 'lockMs'),
    waitMs: o.waitMs === undefined ? 0 : requireNonNegativeMs(o.waitMs, 'waitMs'),
    max: o.max === undefined ? 1 : requireInteger(o.max, 1, 'max'),
    signal: o.signal as AbortSignal | undefined,
  };
}

/** The eager-dispatch request of an ack, or null when none was made. */
export function ackOptionsArgs(opts: AckOptions | undefined): { lockMs: number; max: number; owner: string | null } | null {
  const o = opts === undefined ? {} : requireObject(opts, 'ack options');
  if (o.lockWorkItems === undefined) return null;
  const l = requireObject(o.lockWorkItems, 'lockWorkItems');
  return {
    lockMs: requirePositiveMs(l.lockMs, 'lockWorkItems.lockMs'),
    max: requireInteger(l.max, 1, 'lockWorkItems.max'),
    owner: l.owner === undefined ? null : requireString(l.owner, 'lockWorkItems.owner'),
  };
}

/** A work item ack's options, checked: the dead-letter reason and the instance lock to take (null: none). */
export function workAckOptionsArgs(opts: WorkItemAckOptions | undefined): { deadLetterReason: string | null; lockInstance: { lockMs: number; owner: string | null } | null } {
  const o = opts === undefined ? {} : requireObject(opts, 'ack options');
  const l = o.lockInstance === undefined ? null : requireObject(o.lockInstance, 'lockInstance');
  return {
    deadLetterReason: o.deadLetterReason === undefined ? null : requireString(o.deadLetterReason, 'deadLetterReason'),
    lockInstance: l === null ? null : {
      lockMs: requirePositiveMs(l.lockMs, 'lockInstance.lockMs'),
      owner: l.owner === undefined ? null : requireString(l.owner, 'lockInstance.owner'),
    },
  };
}

export function abandonArgs(opts: AbandonOptions | undefined): { delayMs: number; countAttempt: boolean } {
  const o = opts === undefined ? {} : requireObject(opts, 'abandon options');
  if (o.countAttempt !== undefined && typeof o.countAttempt !== 'boolean') fail('countAttempt must be a boolean');
  return {
    delayMs: o.delayMs === undefined ? 0 : requireNonNegativeMs(o.delayMs, 'delayMs'),
    countAttempt: o.countAttempt !== false,
  };
}

export interface MessageArgs {
  instanceId: string;
  kind: OrchestratorMessageKind;
  payload: Json;
  executionId: number | null;
  timerId: string | null;
  visibleAt: number | null;
}

export function messageArgs(msg: unknown, what: string, take: TakeJson = jsonCopy): MessageArgs {
  const o = requireObject(msg, what);
  if (!MESSAGE_KINDS.includes(o.kind as OrchestratorMessageKind)) fail(`${what}.kind '${String(o.kind)}' is unknown`, { kind: o.kind });
  if (o.payload === undefined) fail(`${what}.payload is required`);
  return {
    instanceId: requireId(o.instanceId, `${what}.instanceId`),
    kind: o.kind as OrchestratorMessageKind,
    payload: take(o.payload, `${what}.payload`),
    executionId: o.executionId == null ? null : requireInteger(o.executionId, 1, `${what}.executionId`),
    timerId: o.timerId == null ? null : requireId(o.timerId, `${what}.timerId`),
    visibleAt: o.visibleAt == null ? null : requireTime(o.visibleAt, `${what}.visibleAt`),
  };
}

function parentArgs(value: unknown, what: string): ParentRef | null {
  if (value == null) return null;
  const o = requireObject(value, what);
  return {
    instanceId: requireId(o.instanceId, `${what}.instanceId`),
    executionId: requireInteger(o.executionId, 1, `${what}.executionId`),
    invokeId: requireId(o.invokeId, `${what}.invokeId`),
  };
}

function errorArgs(value: unknown, what: string, take: TakeJson): ErrorInfo | null {
  if (value == null) return null;
  const o = requireObject(value, what);
  requireString(o.name, `${what}.name`);
  requireString(o.message, `${what}.message`);
  return take(o, what) as unknown as ErrorInfo;
}

/** The instance write with `passedExecutionInputs` always present (absent = none). */
export type InstanceWriteArgs = InstanceWrite & { passedExecutionInputs: Json[] };

function instanceArgs(value: unknown, take: TakeJson): InstanceWriteArgs {
  const o = requireObject(value, 'delta.instance');
  if (!STATUSES.includes(o.status as InstanceStatus)) fail(`delta.instance.status '${String(o.status)}' is unknown`);
  const passed = o.passedExecutionInputs ?? [];
  if (!Array.isArray(passed)) fail('delta.instance.passedExecutionInputs must be an array');
  return {
    name: requireId(o.name, 'delta.instance.name'),
    version: requireString(o.version, 'delta.instance.version'),
    executionId: requireInteger(o.executionId, 1, 'delta.instance.executionId'),
    status: o.status as InstanceStatus,
    stateValue: take(o.stateValue, 'delta.instance.stateValue'),
    context: take(o.context, 'delta.instance.context'),
    input: take(o.input, 'delta.instance.input'),
    passedExecutionInputs: passed.map((input, i) => take(input, `delta.instance.passedExecutionInputs[${i}]`)),
    output: o.output === undefined ? null : take(o.output, 'delta.instance.output'),
    error: errorArgs(o.error, 'delta.instance.error', take),
    snapshot: o.snapshot === undefined ? null : take(o.snapshot, 'delta.instance.snapshot'),
    definitionHash: requireString(o.definitionHash, 'delta.instance.definitionHash'),
    parent: parentArgs(o.parent, 'delta.instance.parent'),
  };
}

function historyArgs(value: unknown, i: number, take: TakeJson): HistoryEventInput {
  const o = requireObject(value, `delta.history[${i}]`);
  return {
    executionId: requireInteger(o.executionId, 1, `delta.history[${i}].executionId`),
    seq: requireInteger(o.seq, 0, `delta.history[${i}].seq`),
    type: requireId(o.type, `delta.history[${i}].type`),
    data: take(o.data, `delta.history[${i}].data`),
  };
}

function timerArgs(value: unknown, i: number, take: TakeJson): TimerInput {
  const o = requireObject(value, `delta.timers[${i}]`);
  return {
    timerId: requireId(o.timerId, `delta.timers[${i}].timerId`),
    fireAt: requireTime(o.fireAt, `delta.timers[${i}].fireAt`),
    executionId: requireInteger(o.executionId, 1, `delta.timers[${i}].executionId`),
    payload: take(o.payload, `delta.timers[${i}].payload`),
  };
}

export interface WorkItemArgs extends Omit<WorkItemInput, 'visibleAt'> { visibleAt: number | null }

export function workItemArgs(value: unknown, what: string, take: TakeJson = jsonCopy): WorkItemArgs {
  const o = requireObject(value, what);
  return {
    instanceId: requireId(o.instanceId, `${what}.instanceId`),
    executionId: requireInteger(o.executionId, 1, `${what}.executionId`),
    activityId: requireId(o.activityId, `${what}.activityId`),
    name: requireId(o.name, `${what}.name`),
    payload: take(o.payload, `${what}.payload`),
    visibleAt: o.visibleAt == null ? null : requireTime(o.visibleAt, `${what}.visibleAt`),
  };
}

export interface DeltaArgs {
  instance: InstanceWriteArgs;
  history: HistoryEventInput[];
  messages: MessageArgs[];
  timers: TimerInput[];
  workItems: WorkItemArgs[];
  cancelTimers: string[];
  cancelActivities: string[];
  keepMessageIds: string[];
  deadLetterMessageIds: string[];
  deadLetterReason: string;
}

/** Shape checks only; checks against stored state (duplicates, lock membership) happen in the provider. */
export function deltaArgs(delta: OrchestrationDelta, take: TakeJson = jsonCopy): DeltaArgs {
  const o = requireObject(delta, 'delta');
  const list = (key: string): unknown[] => {
    if (!Array.isArray(o[key])) fail(`delta.${key} must be an array`);
    return o[key] as unknown[];
  };
  return {
    instance: instanceArgs(o.instance, take),
    history: list('history').map((h, i) => historyArgs(h, i, take)),
    messages: list('messages').map((m, i) => messageArgs(m, `delta.messages[${i}]`, take)),
    timers: list('timers').map((t, i) => timerArgs(t, i, take)),
    workItems: list('workItems').map((w, i) => workItemArgs(w, `delta.workItems[${i}]`, take)),
    cancelTimers: requireStringArray(o.cancelTimers, 'delta.cancelTimers'),
    cancelActivities: requireStringArray(o.cancelActivities, 'delta.cancelActivities'),
    keepMessageIds: requireStringArray(o.keepMessageIds, 'delta.keepMessageIds'),
    deadLetterMessageIds: requireStringArray(o.deadLetterMessageIds, 'delta.deadLetterMessageIds'),
    deadLetterReason: o.deadLetterReason === undefined ? 'dead-lettered' : requireString(o.deadLetterReason, 'delta.deadLetterReason'),
  };
}

export function filterArgs(filter: InstanceFilter | undefined): InstanceFilter {
  const o = filter === undefined ? {} : requireObject(filter, 'filter');
  const out: InstanceFilter = {};
  if (o.status !== undefined) {
    if (!Array.isArray(o.status) || o.status.some((s) => !STATUSES.includes(s as InstanceStatus))) fail('filter.status must list known statuses');
    out.status = [...(o.status as InstanceStatus[])];
  }
  if (o.name !== undefined) out.name = requireString(o.name, 'filter.name');
  if (o.createdFrom !== undefined) out.createdFrom = requireTime(o.createdFrom, 'filter.createdFrom');
  if (o.createdTo !== undefined) out.createdTo = requireTime(o.createdTo, 'filter.createdTo');
  if (o.parentInstanceId !== undefined) out.parentInstanceId = requireId(o.parentInstanceId, 'filter.parentInstanceId');
  return out;
}

export function pageArgs(page: { cursor?: string | null; limit?: number } | undefined): { cursor: string | null; limit: number } {
  const o = page === undefined ? {} : requireObject(page, 'page');
  return {
    cursor: o.cursor == null ? null : requireId(o.cursor, 'page.cursor'),
    limit: o.limit === undefined ? 100 : requireInteger(o.limit, 1, 'page.limit'),
  };
}
