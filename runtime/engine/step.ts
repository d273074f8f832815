/**
 * One machine step: run the pure initial step or transition (pure-steps.ts) with now()/uuid() bound to the event being
 * applied, turn the returned actions into commands (DESIGN section 3), check JSON safety of what the
 * step produced, and settle a final or error status.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { Json } from '../../providers/types.js';
import { DurastateError } from '../../providers/errors.js';
import { CONTINUE_AS_NEW_ACTION, type ContinueAsNewParams } from '../definitions/continue-as-new.js';
import { withStepContext } from '../definitions/deterministic.js';
import { readPlaceholder } from '../definitions/placeholders.js';
import { InvalidDefinitionError, MachineCodeError } from '../errors.js';
import { diagnosticCopy, toErrorInfo } from './error-info.js';
import type { Execution, TurnRecorder } from './execution.js';
import type { StepActions } from './pure-steps.js';
import { newFanOutState, openWorkItemIds, outstandingActivityIds } from './fan-out-state.js';
import { emptyPending } from './stored-snapshot.js';
import { assertJsonSafe } from '../../providers/json-safety.js';


export interface StepResult {
  /** Set when the step ran the continueAsNew action: the input of the next execution. */
  continueAsNew?: Json;
  /** Invoke ids of fan-outs the step started with no elements: they finish at once (apply-message.ts). */
  emptyFanOuts?: string[];
}

/** When a step runs: the event's seq and logical time, and which of the event's steps it is (see StepContext.substep). */
export interface StepAt {
  seq: number;
  now: number;
  substep?: number;
}

/** What applying one step's actions collects besides commands. */
interface StepEffects {
  /** Children the step's spawnChild actions announced. */
  spawned: Set<string>;
  emptyFanOuts: string[];
}

/** XState's name for children whose id it generated (a process-global counter: not replayable). */
const GENERATED_CHILD_ID = /^x:\d+$/;

export function runStep(
  exec: Execution,
  rec: TurnRecorder,
  at: StepAt,
  step: () => [AnyMachineSnapshot, StepActions],
): StepResult {
  const before = exec.machine;
  let next: AnyMachineSnapshot;
  let actions: StepActions;
  try {
    [next, actions] = withStepContext({ instanceId: exec.instanceId, executionId: exec.executionId, seq: at.seq, now: at.now, substep: at.substep ?? 0 }, step);
  } catch (err) {
    if (err instanceof DurastateError) throw err;
    const info = toErrorInfo(err);
    throw new MachineCodeError(`machine code threw while applying event #${at.seq}: ${info.message}`, { seq: at.seq, error: info.message }, err);
  }
  exec.machine = next;
  // The context's JSON safety is checked once per turn, on the snapshot that is stored
  // (storedSnapshotOf): persisting here, per step, copied every child of the machine each time.

  const can = actions.find((a) => a.type === CONTINUE_AS_NEW_ACTION);
  if (can) {
    // The step that continues as new issues no other command: the execution ends here.
    const input = (can.params as ContinueAsNewParams).input;
    assertJsonSafe(input, 'continueAsNew input', exec.maxPayloadBytes);
    return { continueAsNew: input };
  }
  const effects: StepEffects = { spawned: new Set(), emptyFanOuts: [] };
  for (const action of actions) applyAction(exec, rec, action, at.now, effects);
  scheduleAssignSpawns(exec, rec, before, next, effects);

  if (next.status === 'done') {
    const output = (next.output ?? null) as unknown;
    assertJsonSafe(output, 'output', exec.maxPayloadBytes);
    finish(exec, rec, 'completed', { output });
    exec.output = output;
    rec.log('info', 'orchestration completed');
  } else if (next.status === 'error') {
    exec.error = toErrorInfo(next.error);
    finish(exec, rec, 'failed', { error: { name: exec.error.name, message: exec.error.message } });
    rec.log('error', 'orchestration failed', { error: exec.error.message });
  }
  return effects.emptyFanOuts.length > 0 ? { emptyFanOuts: effects.emptyFanOuts } : {};
}

/** Ends the execution with a terminal status: cancels what is still outstanding and records the status. */
export function finish(exec: Execution, rec: TurnRecorder, status: 'completed' | 'failed' | 'terminated', data: Record<string, Json>): void {
  cancelAllPending(exec, rec);
  exec.status = status;
  rec.record(status, data);
}

export function cancelAllPending(exec: Execution, rec: TurnRecorder): void {
  for (const activityId of outstandingActivityIds(exec.pending)) rec.command({ type: 'cancelActivity', activityId });
  for (const timerId of Object.keys(exec.pending.timers)) rec.command({ type: 'cancelTimer', timerId });
  for (const childInstanceId of Object.keys(exec.pending.children)) rec.command({ type: 'terminateChild', childInstanceId });
  exec.pending = emptyPending();
}

function applyAction(exec: Execution, rec: TurnRecorder, action: StepActions[number], now: number, effects: StepEffects): void {
  const params = action.params as Record<string, unknown> | undefined;
  switch (action.type) {
    case 'xstate.spawnChild': {
      const { id, src, input } = params as { id: string; src: unknown; input: unknown };
      effects.spawned.add(id);
      scheduleChild(exec, rec, id, src, input, effects);
      return;
    }
    case 'xstate.stopChild': {
      const ref = action.params as { id?: string } | string | undefined;
      stopChild(exec, rec, typeof ref === 'string' ? ref : ref?.id);
      return;
    }
    case 'xstate.raise': {
      if (params?.delay === undefined) return; // immediate raises are applied inside the step
      const delay = Number(params.delay);
      const event = params.event as unknown;
      assertJsonSafe(event, 'delayed event', exec.maxPayloadBytes);
      const sendId = typeof params.id === 'string' ? params.id : null;
      // Durable ids are unique per execution even when a state re-arms the same XState id, so a stale
      // timer message can never be mistaken for the new one.
      const timerId = `${sendId ?? 'raise'}#${exec.executionId}.${++exec.counter}`;
      exec.pending.timers[timerId] = { sendId };
      rec.command({ type: 'createTimer', timerId, sendId, fireAt: now + delay, event });
      return;
    }
    case 'xstate.cancel': {
      const sendId = params?.sendId;
      for (const [timerId, t] of Object.entries(exec.pending.timers)) {
        if (t.sendId === sendId) {
          delete exec.pending.timers[timerId];
          rec.command({ type: 'cancelTimer', timerId });
        }
      }
      return;
    }
    case 'xstate.emit': {
      const event = params?.event as unknown;
      assertJsonSafe(event, 'emitted event', exec.maxPayloadBytes);
      rec.record('emitted', { event });
      return;
    }
    case 'xstate.log': {
      const value = params?.value as unknown;
      rec.log('info', 'machine log', { label: typeof params?.label === 'string' ? params.label : null, value: diagnosticCopy(value) });
      return;
    }
    case 'xstate.sendTo':
    case 'xstate.sendParent':
      rec.log('warn', `${action.type} is not supported by durastate and was ignored`, { params: diagnosticCopy(params) });
      return;
    default:
      if (action.type.startsWith('xstate.')) return;
      if (action.exec === undefined || isSetupAction(exec.definition.machine, action.type)) {
        const p = (action.params ?? null) as unknown;
        assertJsonSafe(p, `params of action '${action.type}'`, exec.maxPayloadBytes);
        rec.command({ type: 'afterCommit', action: action.type, params: p });
      } else {
        rec.log('warn', 'inline action function ignored: side effects belong in activities or named actions', { action: action.type });
      }
  }
}

function isSetupAction(machine: AnyStateMachine, type: string): boolean {
  return Object.prototype.hasOwnProperty.call(machine.implementations.actions ?? {}, type);
}

function scheduleChild(exec: Execution, rec: TurnRecorder, id: string, src: unknown, input: unknown, effects: StepEffects): void {
  const actors = (exec.definition.machine.implementations.actors ?? {}) as Record<string, unknown>;
  const info = typeof src === 'string' ? readPlaceholder(actors[src]) : undefined;
  if (typeof id !== 'string' || GENERATED_CHILD_ID.test(id)) {
    throw new InvalidDefinitionError(`orchestration '${exec.definition.name}': a child was spawned without an explicit id`, { name: exec.definition.name, id });
  }
  if (!info) {
    throw new InvalidDefinitionError(`orchestration '${exec.definition.name}': child '${id}' has a src that is not an activity(), fanOut() or orchestration() placeholder`, {
      name: exec.definition.name,
      id,
    });
  }
  const value = input === undefined ? null : input;
  assertJsonSafe(value, `input of '${id}'`, exec.maxPayloadBytes);
  const n = ++exec.counter;
  if (info.kind === 'activity') {
    const options: Record<string, Json> = { retry: { ...info.retry } };
    if (info.timeoutMs !== undefined) options.timeoutMs = info.timeoutMs;
    if (info.heartbeatMs !== undefined) options.heartbeatMs = info.heartbeatMs;
    if (!info.fanOut) {
      exec.pending.activities[`${id}#${n}`] = { invokeId: id, name: info.name };
      rec.command({ type: 'scheduleActivity', activityId: `${id}#${n}`, invokeId: id, name: info.name, input: value, options });
      rec.log('debug', 'activity scheduled', { activityId: `${id}#${n}`, name: info.name });
      return;
    }
    if (!Array.isArray(value)) {
      throw new MachineCodeError(`the input of fan-out '${id}' must be an array of the activity's inputs`, { id, name: info.name }, undefined);
    }
    const fanOutId = `${id}#${n}`;
    if (value.length === 0) effects.emptyFanOuts.push(id);
    else {
      // One command (one history event) for all the elements, not one each repeating name and options.
      const batch = info.fanOut.batchSize ?? 1;
      rec.command({ type: 'scheduleFanOut', fanOutId, invokeId: id, name: info.name, inputs: value, options, ...(batch > 1 ? { batchSize: batch } : {}) });
      (exec.pending.fanOuts ??= {})[fanOutId] = newFanOutState(id, info.fanOut.settle, value.length, batch);
    }
    rec.log('debug', 'fan-out scheduled', { fanOutId, name: info.name, elements: value.length });
  } else {
    const childInstanceId = `${exec.instanceId}:${id}:${exec.executionId}:${n}`;
    exec.pending.children[childInstanceId] = { invokeId: id, name: info.name };
    rec.command({ type: 'startChild', childInstanceId, invokeId: id, name: info.name, version: info.version ?? null, input: value });
    rec.log('debug', 'child orchestration started', { childInstanceId, name: info.name });
  }
}

function stopChild(exec: Execution, rec: TurnRecorder, invokeId: string | undefined): void {
  for (const activityId of takeInvoked(exec.pending.activities, invokeId)) rec.command({ type: 'cancelActivity', activityId });
  const fanOuts = exec.pending.fanOuts ?? {};
  for (const fanOutId of Object.keys(fanOuts).filter((key) => fanOuts[key]!.invokeId === invokeId)) {
    for (const activityId of openWorkItemIds(fanOutId, fanOuts[fanOutId]!)) rec.command({ type: 'cancelActivity', activityId });
    delete fanOuts[fanOutId];
  }
  dropEmptyFanOuts(exec);
  for (const childInstanceId of takeInvoked(exec.pending.children, invokeId)) rec.command({ type: 'terminateChild', childInstanceId });
}

/** Fan-outs are in the stored snapshot only while one collects results (older snapshots have no such key). */
export function dropEmptyFanOuts(exec: Execution): void {
  if (exec.pending.fanOuts && Object.keys(exec.pending.fanOuts).length === 0) delete exec.pending.fanOuts;
}

/** Removes the outstanding entries of one invoke id from a pending table and returns their keys, in order. */
function takeInvoked(table: Record<string, { invokeId: string }>, invokeId: string | undefined): string[] {
  const keys = Object.keys(table).filter((key) => table[key]!.invokeId === invokeId);
  for (const key of keys) delete table[key];
  return keys;
}

/**
 * `spawn(...)` inside assign produces no spawnChild action: the child only appears in the snapshot.
 * Find children that are new after the step and were not announced by an action.
 */
function scheduleAssignSpawns(
  exec: Execution,
  rec: TurnRecorder,
  before: AnyMachineSnapshot | null,
  next: AnyMachineSnapshot,
  effects: StepEffects,
): void {
  // XState copies the children map whenever it changes, so an unchanged map has no new child.
  if (before !== null && next.children === before.children) return;
  const unannounced = Object.keys(next.children as Record<string, unknown>).filter((id) => !effects.spawned.has(id) && !(before !== null && id in before.children));
  if (unannounced.length === 0) return;
  // The child actor (created, never started) holds its src and, in its initial snapshot, its input.
  const children = next.children as Record<string, { src?: unknown; getSnapshot(): { input?: unknown } }>;
  for (const id of unannounced) scheduleChild(exec, rec, id, children[id]?.src, children[id]?.getSnapshot().input, effects);
}

