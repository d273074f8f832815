/**
 * Applying recorded inputs to an execution: the 'started' event (the initial step) and 'event'
 * entries (one orchestrator message each). The live turn and the replay call the same functions, so a
 * replay with an unchanged definition reproduces the same commands and snapshot.
 */
import type { EventObject } from 'xstate';
import type { Json, OrchestratorMessage, OrchestratorMessageKind } from '../../providers/contract.js';
import { isTerminal } from '../../providers/types.js';
import { NondeterminismError, TerminatedError } from '../errors.js';
import type { Execution, TurnRecorder } from './execution.js';
import { toErrorInfo } from './error-info.js';
import { initialStep, transitionStep } from './pure-steps.js';
import { cancelAllPending, dropEmptyFanOuts, finish, runStep, type StepAt, type StepResult } from './step.js';
import { closeElement, openElement, openWorkItemIds, type OpenElement } from './fan-out-state.js';

/** History data of a 'started' event: the execution's input and the logical time of its start. */
export interface StartedData {
  input: Json;
  now: number;
}

/** History data of an 'event' entry: the applied message as fetched, with the turn's logical time. */
export interface EventData {
  messageId: string;
  kind: OrchestratorMessageKind;
  payload: Json;
  executionId: number | null;
  timerId: string | null;
  now: number;
}

export function eventDataOf(msg: OrchestratorMessage, now: number): EventData {
  return { messageId: msg.id, kind: msg.kind, payload: msg.payload, executionId: msg.executionId, timerId: msg.timerId, now };
}

type Payload = Record<string, Json | undefined>;

function payloadOf(payload: Json): Payload {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Payload) : {};
}

export function applyStarted(exec: Execution, rec: TurnRecorder, data: StartedData): StepResult {
  const seq = rec.record('started', data as unknown as Json);
  const machine = exec.definition.machine;
  const at = { seq, now: data.now };
  return settleEmptyFanOuts(exec, rec, at, runStep(exec, rec, at, () => initialStep(machine, data.input)));
}

/**
 * Why a live message is not applied: 'keep' leaves it queued, a string drops it (the reason).
 * undefined: apply it. Replays never classify: what was recorded as applied is applied.
 */
export function classifyMessage(exec: Execution, msg: OrchestratorMessage): 'keep' | string | undefined {
  if (isTerminal(exec.status)) return `instance is ${exec.status}`;
  if (msg.kind === 'start') return 'instance already started';
  if (msg.executionId !== null && msg.executionId !== exec.executionId) return `message for execution ${msg.executionId}, current is ${exec.executionId}`;
  if (exec.status === 'suspended' && msg.kind !== 'terminate' && msg.kind !== 'resume' && msg.kind !== 'suspend') return 'keep';
  const p = payloadOf(msg.payload);
  switch (msg.kind) {
    case 'event':
      return typeof p.type === 'string' ? undefined : 'payload is not a machine event (no string type)';
    case 'activityCompleted':
    case 'activityFailed':
      return typeof p.activityId === 'string' && (p.activityId in exec.pending.activities || openElement(exec.pending, p.activityId) !== undefined)
        ? undefined
        : `activity '${String(p.activityId)}' is not outstanding`;
    case 'activityResults':
      // Well-formed groups never get here: the turn applies their results one by one (result-groups.ts).
      return 'payload is not a list of activity results';
    case 'timerFired': {
      const timerId = msg.timerId ?? p.timerId;
      return typeof timerId === 'string' && timerId in exec.pending.timers ? undefined : `timer '${String(timerId)}' is not outstanding`;
    }
    case 'childCompleted':
    case 'childFailed':
      return typeof p.childInstanceId === 'string' && p.childInstanceId in exec.pending.children ? undefined : `child '${String(p.childInstanceId)}' is not outstanding`;
    default:
      return undefined;
  }
}

/** Applies one message (recorded as an 'event' history entry). */
export function applyEvent(exec: Execution, rec: TurnRecorder, data: EventData): StepResult {
  const seq = rec.record('event', data as unknown as Json);
  const p = payloadOf(data.payload);
  const at = { seq, now: data.now };
  const step = (event: EventObject) => settleEmptyFanOuts(exec, rec, at, transitionOn(exec, rec, at, event));
  const stepAndForget = (invokeId: string, event: EventObject) => settleEmptyFanOuts(exec, rec, at, resultStep(exec, rec, at, invokeId, event));
  switch (data.kind) {
    case 'event':
      return step(p as unknown as EventObject);
    case 'activityCompleted':
    case 'activityFailed': {
      const element = openElement(exec.pending, String(p.activityId));
      if (element !== undefined) {
        const event = collectFanOutResult(exec, rec, element, data.kind === 'activityCompleted', p);
        return event ? stepAndForget(element.state.invokeId, event) : {};
      }
      const entry = takePending(exec.pending.activities, String(p.activityId), seq);
      return stepAndForget(entry.invokeId, actorResultEvent(entry.invokeId, data.kind === 'activityCompleted', p));
    }
    case 'timerFired': {
      takePending(exec.pending.timers, String(data.timerId ?? p.timerId), seq);
      return step(p.event as unknown as EventObject);
    }
    case 'childCompleted':
    case 'childFailed': {
      const invokeId = takePending(exec.pending.children, String(p.childInstanceId), seq).invokeId;
      return stepAndForget(invokeId, actorResultEvent(invokeId, data.kind === 'childCompleted', p));
    }
    case 'terminate': {
      const reason = typeof p.reason === 'string' ? p.reason : undefined;
      exec.error = toErrorInfo(new TerminatedError(exec.instanceId, reason));
      finish(exec, rec, 'terminated', { reason: reason ?? null });
      rec.log('info', 'orchestration terminated', { reason: reason ?? null });
      return {};
    }
    case 'suspend':
      if (exec.status === 'running') {
        exec.status = 'suspended';
        rec.log('info', 'orchestration suspended');
      }
      return {};
    case 'resume':
      if (exec.status === 'suspended') {
        exec.status = 'running';
        exec.error = null;
        rec.log('info', 'orchestration resumed');
      }
      return {};
    case 'start':
      throw new NondeterminismError('a start message was recorded as an applied event', { seq });
    case 'activityResults':
      throw new NondeterminismError('a group of activity results was recorded as one applied event', { seq });
  }
}

function transitionOn(exec: Execution, rec: TurnRecorder, at: StepAt, event: EventObject): StepResult {
  if (exec.machine === null) throw new NondeterminismError('an event was recorded before the execution started', { seq: at.seq });
  const from = exec.machine;
  const machine = exec.definition.machine;
  return runStep(exec, rec, at, () => transitionStep(machine, from, event));
}

/**
 * The step that applies a child's result (`invokeId` is done or failed). A finished child stays in
 * XState's snapshot.children (pure or live) until its state exits or the machine ends, and every
 * later step that persists or stops children copies it: O(n²) for a fan-out of spawned children.
 * Once its result is applied nothing can address it any more, so it is removed, unless the step
 * replaced it with a new child of the same id.
 */
function resultStep(exec: Execution, rec: TurnRecorder, at: StepAt, invokeId: string, event: EventObject): StepResult {
  const finished = exec.machine?.children[invokeId];
  const result = transitionOn(exec, rec, at, event);
  const machine = exec.machine;
  if (finished !== undefined && machine !== null && machine.children[invokeId] === finished) {
    // In place: copying the map per result would be O(n²) again. Nothing else holds it: XState shares
    // it only with the snapshot before this step, which the execution has just replaced.
    delete (machine.children as Record<string, unknown>)[invokeId];
  }
  return result;
}

/**
 * A fan-out started with no elements has nothing to wait for: it finishes at once with [], in a
 * further step of the same event (each with its own substep, so uuid() differs), as replays do too.
 */
function settleEmptyFanOuts(exec: Execution, rec: TurnRecorder, at: StepAt, result: StepResult): StepResult {
  const empty = [...(result.emptyFanOuts ?? [])];
  let substep = at.substep ?? 0;
  let last: StepResult = result;
  while (empty.length > 0 && last.continueAsNew === undefined && !isTerminal(exec.status)) {
    const invokeId = empty.shift()!;
    last = resultStep(exec, rec, { ...at, substep: ++substep }, invokeId, actorResultEvent(invokeId, true, { output: [] }));
    empty.push(...(last.emptyFanOuts ?? []));
  }
  return last.continueAsNew !== undefined ? { continueAsNew: last.continueAsNew } : {};
}

/**
 * Records one element's result in its fan-out. Returns the event that finishes the fan-out (its
 * last result arrived, or an element failed for good and it does not settle), or undefined while it
 * waits for more. A fan-out that fails cancels its other elements.
 */
function collectFanOutResult(exec: Execution, rec: TurnRecorder, element: OpenElement, ok: boolean, p: Payload): EventObject | undefined {
  const { fanOutId, index, state } = element;
  closeElement(state, index);
  const value = (ok ? p.output : p.error) ?? null;
  if (!ok && !state.settle) {
    delete exec.pending.fanOuts![fanOutId];
    dropEmptyFanOuts(exec);
    for (const activityId of openWorkItemIds(fanOutId, state)) rec.command({ type: 'cancelActivity', activityId });
    // The element's error (the activity's ErrorInfo), and which element it was.
    const error: Json = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, index } : { error: value, index };
    return actorResultEvent(state.invokeId, false, { error });
  }
  state.results[index] = state.settle ? (ok ? { status: 'fulfilled', value } : { status: 'rejected', reason: value }) : value;
  if (--state.remaining > 0) return undefined;
  delete exec.pending.fanOuts![fanOutId];
  dropEmptyFanOuts(exec);
  return actorResultEvent(state.invokeId, true, { output: state.results });
}

/** Closes the execution for continue-as-new: cancels its outstanding work and records the command. */
export function endExecutionForContinue(exec: Execution, rec: TurnRecorder, input: Json): void {
  cancelAllPending(exec, rec);
  rec.command({ type: 'continueAsNew', input });
  rec.record('continuedAsNew', { input, nextExecutionId: exec.executionId + 1 });
}

/** The event XState expects when an invoked actor finishes: done with `output`, or error with `error`. */
function actorResultEvent(invokeId: string, done: boolean, p: Payload): EventObject {
  const event = done
    ? { type: `xstate.done.actor.${invokeId}`, output: p.output ?? null, actorId: invokeId }
    : { type: `xstate.error.actor.${invokeId}`, error: p.error ?? null, actorId: invokeId };
  return event as EventObject;
}

function takePending<T>(table: Record<string, T>, key: string, seq: number): T {
  const entry = table[key];
  // Live turns only apply results that are outstanding; a replay that disagrees ran different code.
  if (entry === undefined) throw new NondeterminismError(`event #${seq} answers '${key}', which the replayed machine never scheduled`, { seq, key });
  delete table[key];
  return entry;
}
