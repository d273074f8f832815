/**
 * runTurn: one turn of one instance, as a pure function of the fetched item (DESIGN section 3).
 *
 * Order of decisions:
 * 1. Which definition: the record's name/version, or the start message's (version absent: newest).
 *    No record and no start in the batch → abandon ('not started'): events may arrive before their
 *    start; abandoning with a delay (not counted as an attempt) avoids re-fetching them in a hot loop.
 *    A definition this process does not have → abandon (rolling deploys), never a failure.
 * 2. Poison: item.attempt > maxAttempts → the instance fails with PoisonMessageError, messages dead-lettered.
 * 3. A terminal instance consumes its messages and records them as dropped.
 * 4. Restore the stored snapshot (or continue the live machine the caller kept from the instance's
 *    last turn, when the record stores exactly what that turn committed); if the snapshot is missing
 *    or its definition hash differs, replay history (needHistory when none was passed). A
 *    NondeterminismError fails (or suspends) the instance.
 * 5. Apply the messages in order (a new instance's start first); stop applying at a terminal status;
 *    keep later messages after a suspend or a continue-as-new.
 * A turn that breaks a rule (machine code throws, a value is not JSON-safe or too large, a spawn
 * without id) is discarded entirely: the instance fails from its state before the turn.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { InstanceRecord, Json, OrchestrationDelta, StartPayload } from '../../providers/contract.js';
import { NotJsonSafeError, PayloadTooLargeError } from '../../providers/errors.js';
import { isTerminal } from '../../providers/types.js';
import { jsonEqual } from '../definitions/canonical-json.js';
import { InvalidDefinitionError, MachineCodeError, NondeterminismError, PoisonMessageError, UnknownOrchestrationError } from '../errors.js';
import { DEFAULT_NOT_STARTED_DELAY_MS, DEFAULT_UNKNOWN_DEFINITION_DELAY_MS, type TurnInput, type TurnOutcome } from './api.js';
import { applyEvent, applyStarted, classifyMessage, endExecutionForContinue, eventDataOf } from './apply-message.js';
import { deltaOfCommands, parentNotification } from './delta.js';
import { consumeAfterEnd, endWithoutMachine, onNondeterminism } from './end-without-machine.js';
import { freshExecution, TurnRecorder, type Execution } from './execution.js';
import { assertJsonSafe } from '../../providers/json-safety.js';
import { replayExecution, storedSnapshotOf } from './replay.js';
import type { StepResult } from './step.js';
import { copyPending, emptyPending, persistedMachine, readStoredSnapshot, restoreMachine } from './stored-snapshot.js';
import { recordDropped, type Frame } from './turn-frame.js';
import { turnMessages } from './result-groups.js';

/** Continue-as-new chains inside one turn beyond this are a machine bug (its start continues again). */
const MAX_CONTINUES_PER_TURN = 100;

export function runTurn(input: TurnInput): TurnOutcome {
  const { item, registry, options } = input;
  const record = item.instance;
  const startMsg = record ? undefined : item.messages.find((m) => m.kind === 'start');
  if (!record && !startMsg) {
    return { kind: 'abandon', reason: 'not started', delayMs: options.notStartedDelayMs ?? DEFAULT_NOT_STARTED_DELAY_MS };
  }
  const start = startMsg ? { msg: startMsg, payload: startMsg.payload as unknown as StartPayload } : undefined;
  const name = record?.name ?? start!.payload.name;
  const version = record ? record.version : start!.payload.version;
  const definition = registry.lookup(name, version);
  if (!definition) {
    return { kind: 'abandon', reason: new UnknownOrchestrationError(name, version).message, delayMs: options.unknownDefinitionDelayMs ?? DEFAULT_UNKNOWN_DEFINITION_DELAY_MS };
  }
  const frame: Frame = { input, definition, record, start };

  if (record && isTerminal(record.status)) return consumeAfterEnd(frame);
  if (item.attempt > options.maxAttempts) {
    return endWithoutMachine(frame, { status: 'failed', error: new PoisonMessageError(item.instanceId, item.attempt, options.maxAttempts), deadLetter: true });
  }

  let exec: Execution;
  try {
    const restored = record ? restoreExecution(frame, record) : newExecution(frame);
    if (restored === 'needHistory') return { kind: 'needHistory', executionId: record!.executionId };
    exec = restored;
  } catch (err) {
    if (!(err instanceof NondeterminismError)) throw err;
    return onNondeterminism(frame, err);
  }

  try {
    return applyMessages(frame, exec);
  } catch (err) {
    if (!isTurnFailure(err)) throw err;
    return endWithoutMachine(frame, { status: 'failed', error: err });
  }
}

function isTurnFailure(err: unknown): err is Error {
  return (
    err instanceof MachineCodeError ||
    err instanceof NotJsonSafeError ||
    err instanceof PayloadTooLargeError ||
    err instanceof InvalidDefinitionError ||
    err instanceof NondeterminismError
  );
}

function newExecution(frame: Frame): Execution {
  return freshExecution({
    instanceId: frame.input.item.instanceId,
    definition: frame.definition,
    executionId: frame.input.item.executionId,
    input: null,
    maxPayloadBytes: frame.input.options.maxPayloadBytes,
  });
}

function restoreExecution(frame: Frame, record: InstanceRecord): Execution | 'needHistory' {
  const { definition } = frame;
  const stored = readStoredSnapshot(record.snapshot);
  let exec: Execution;
  if (stored && record.definitionHash === definition.definitionHash) {
    exec = newExecution(frame);
    exec.executionId = record.executionId;
    exec.machine = resumedOrRestored(frame, persistedMachine(stored.machine, record.context));
    exec.pending = copyPending(stored.pending);
    exec.counter = stored.counter;
  } else {
    const history = frame.input.history;
    if (!history) return 'needHistory';
    exec = replayExecution(definition, record.instanceId, history.filter((e) => e.executionId === record.executionId));
    exec.maxPayloadBytes = frame.input.options.maxPayloadBytes;
  }
  // The record is the truth for what replay cannot know (e.g. suspended by a nondeterminism).
  exec.status = record.status;
  exec.input = record.input;
  exec.output = record.output;
  exec.error = record.error;
  return exec;
}

/** The live machine the caller kept from this instance's last turn, if the record stores exactly what it committed; else restored. */
function resumedOrRestored(frame: Frame, persisted: Json): AnyMachineSnapshot {
  const resume = frame.input.resume;
  if (resume && resume.definitionHash === frame.definition.definitionHash && jsonEqual(resume.persisted, persisted)) return resume.machine;
  return restoreMachine(frame.definition.machine, persisted);
}

function applyMessages(frame: Frame, exec: Execution): TurnOutcome {
  const { item } = frame.input;
  const record = frame.record;
  const rec = new TurnRecorder(exec.executionId, record?.historyLength ?? 0, false);
  const keep = new Set<string>();
  /** Inputs of the executions this turn opens and closes again (the provider creates them in passing). */
  const passedInputs: Json[] = [];
  let continues = 0;
  // Continue-as-new chains: end the execution, open the next at seq 0, and start it with the new input.
  const follow = (result: StepResult): boolean => {
    let continued = false;
    while (result.continueAsNew !== undefined) {
      if (++continues > MAX_CONTINUES_PER_TURN) throw new MachineCodeError('continueAsNew was called in a loop within one turn', { continues }, undefined);
      const nextInput = result.continueAsNew;
      if (record === null || exec.executionId > record.executionId) passedInputs.push(exec.input);
      endExecutionForContinue(exec, rec, nextInput);
      Object.assign(exec, { executionId: exec.executionId + 1, input: nextInput, machine: null, pending: emptyPending(), counter: 0 });
      rec.beginExecution(exec.executionId);
      rec.log('info', 'orchestration continued as new', { executionId: exec.executionId });
      result = applyStarted(exec, rec, { input: nextInput, now: item.now });
      continued = true;
    }
    return continued;
  };

  let keepRest = false;
  if (frame.start) {
    assertJsonSafe(frame.start.payload.input, 'input', exec.maxPayloadBytes);
    exec.input = frame.start.payload.input;
    rec.log('info', 'orchestration started', { name: frame.definition.name, version: frame.definition.version });
    keepRest = follow(applyStarted(exec, rec, { input: frame.start.payload.input, now: item.now }));
  }
  for (const msg of turnMessages(item.messages)) {
    if (msg === frame.start?.msg) continue;
    // A group is one queued message: kept whole if any of its results is kept. Its results applied
    // before are not applied twice: the next turn finds them no longer outstanding and drops them.
    if (keepRest) {
      keep.add(msg.id);
      continue;
    }
    const verdict = classifyMessage(exec, msg);
    if (verdict === 'keep') {
      keep.add(msg.id);
      continue;
    }
    if (verdict !== undefined) {
      recordDropped(rec, msg, verdict);
      continue;
    }
    keepRest = follow(applyEvent(exec, rec, eventDataOf(msg, item.now)));
    if (msg.kind === 'suspend' && exec.status === 'suspended') keepRest = true;
  }
  const { snapshot: stored, persisted } = storedSnapshotOf(exec);
  const work = deltaOfCommands(exec.instanceId, rec.commands);
  const parent = record?.parent ?? frame.start?.payload.parent ?? null;
  // A record that was terminal before the turn never gets here (consumeAfterEnd), so a terminal status is new.
  const notify = parentNotification(exec.instanceId, parent, exec.status, exec.output, exec.error);
  const delta: OrchestrationDelta = {
    instance: {
      name: frame.definition.name,
      version: frame.definition.version,
      executionId: exec.executionId,
      status: exec.status,
      stateValue: persisted.value ?? null,
      context: persisted.context ?? null,
      input: exec.input,
      passedExecutionInputs: passedInputs,
      output: exec.output,
      error: exec.error,
      snapshot: stored as unknown as Json,
      definitionHash: frame.definition.definitionHash,
      parent,
    },
    history: rec.history,
    messages: notify ? [...work.messages, notify] : work.messages,
    timers: work.timers,
    workItems: work.workItems,
    cancelTimers: work.cancelTimers,
    cancelActivities: work.cancelActivities,
    keepMessageIds: [...keep],
    deadLetterMessageIds: [],
  };
  const resume = exec.machine !== null && !isTerminal(exec.status)
    ? { definitionHash: frame.definition.definitionHash, persisted, machine: exec.machine }
    : null;
  return { kind: 'commit', delta, afterCommit: work.afterCommit, log: rec.logs, executionId: exec.executionId, turn: (record?.turns ?? 0) + 1, resume };
}
