/**
 * Rebuilding an execution from its history: apply the recorded 'started' and 'event' entries through
 * the same code as a live turn and check that the commands come out exactly as recorded. Entries the
 * engine writes without applying a message ('dropped', 'failed' by poison or JSON checks,
 * 'nondeterminism') are not inputs and are skipped; 'command' entries are what is compared.
 */
import type { HistoryEvent, HistoryEventInput, InstanceStatus, Json } from '../../providers/contract.js';
import { canonicalJson } from '../definitions/canonical-json.js';
import type { OrchestrationDefinition } from '../definitions/orchestration-definition.js';
import { DurastateError } from '../../providers/errors.js';
import { NondeterminismError } from '../errors.js';
import { applyEvent, applyStarted, endExecutionForContinue, type EventData, type StartedData } from './apply-message.js';
import type { Command } from './commands.js';
import { freshExecution, TurnRecorder, type Execution } from './execution.js';
import { elementActivityId } from './fan-out-state.js';
import { persistMachine, storedMachine, type StoredSnapshot } from './stored-snapshot.js';

/** Replays one execution's history (events of one executionId, any order). NondeterminismError on any difference. */
export function replayExecution(definition: OrchestrationDefinition, instanceId: string, events: readonly HistoryEventInput[]): Execution {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const first = sorted[0];
  if (!first || first.type !== 'started') {
    throw new NondeterminismError(`the history of instance '${instanceId}' does not begin with a 'started' event`, { instanceId });
  }
  const exec = freshExecution({
    instanceId, definition, executionId: first.executionId, input: (first.data as unknown as StartedData).input, maxPayloadBytes: undefined,
  });
  const rec = new TurnRecorder(first.executionId, 0, true);
  try {
    for (const e of sorted) {
      if (e.type !== 'started' && e.type !== 'event') continue;
      // Seqs seed uuid(): apply each entry at its recorded position even where skipped entries sit between.
      rec.seekTo(e.seq);
      if (e.type === 'started') {
        if (e.seq !== 0) throw new NondeterminismError(`a second 'started' event at seq ${e.seq}`, { seq: e.seq });
        applyStarted(exec, rec, e.data as unknown as StartedData);
        continue;
      }
      const result = applyEvent(exec, rec, e.data as unknown as EventData);
      if (result.continueAsNew !== undefined) {
        endExecutionForContinue(exec, rec, result.continueAsNew);
        break;
      }
    }
  } catch (err) {
    if (err instanceof NondeterminismError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new NondeterminismError(`replaying instance '${instanceId}' failed: ${message}`, {
      instanceId,
      cause: err instanceof DurastateError ? err.code : message,
    });
  }
  compareCommands(instanceId, sorted.filter((e) => e.type === 'command').map((e) => e.data), rec.commands.map((c) => c.command as unknown as Json));
  return exec;
}

/**
 * Commands as compared: a fan-out's scheduling as one scheduleActivity per element, the form that
 * histories written before scheduleFanOut hold, so an instance in flight across that change replays.
 */
function perElement(commands: Json[]): Json[] {
  return commands.flatMap((json) => {
    const c = json as unknown as Command;
    if (c.type !== 'scheduleFanOut') return [json];
    // A batch size stays with each element: queued another way, the elements are different work items.
    const batch: Record<string, Json> = c.batchSize !== undefined ? { batchSize: c.batchSize } : {};
    return c.inputs.map((input, index): Json => ({
      type: 'scheduleActivity', activityId: elementActivityId(c.fanOutId, index), invokeId: c.invokeId, name: c.name, input, options: c.options, ...batch,
    }));
  });
}

function compareCommands(instanceId: string, recordedCommands: Json[], replayedCommands: Json[]): void {
  const recorded = perElement(recordedCommands);
  const replayed = perElement(replayedCommands);
  const n = Math.max(recorded.length, replayed.length);
  for (let i = 0; i < n; i++) {
    const expected = recorded[i] === undefined ? null : canonicalJson(recorded[i]!);
    const actual = replayed[i] === undefined ? null : canonicalJson(replayed[i]!);
    if (expected !== actual) {
      throw new NondeterminismError(
        `instance '${instanceId}': command #${i} differs on replay: recorded ${expected ?? 'nothing'}, replay produced ${actual ?? 'nothing'}`,
        { instanceId, index: i, recorded: expected, replayed: actual },
      );
    }
  }
}

/**
 * The stored snapshot JSON of an execution (what runTurn writes into InstanceWrite.snapshot) and the
 * persisted machine it was made from, whose context goes to the record (InstanceWrite.context).
 */
export function storedSnapshotOf(exec: Execution): { snapshot: StoredSnapshot; persisted: Record<string, Json> } {
  if (exec.machine === null) throw new Error('the execution has not started');
  const persisted = persistMachine(exec.definition.machine, exec.machine, exec.maxPayloadBytes);
  return { snapshot: { machine: storedMachine(persisted), pending: exec.pending, counter: exec.counter }, persisted };
}

export interface ReplayResult {
  executionId: number;
  /** Equal (as JSON) to InstanceRecord.snapshot when the history was produced by this definition. */
  snapshot: Json;
  /** The machine's context, which the snapshot leaves to the record: equal to InstanceRecord.context then. */
  context: Json | null;
  status: InstanceStatus;
  output: Json | null;
}

/**
 * Replay the newest execution found in `history` (for example a whole `readHistory` of the current
 * execution) and return the snapshot it rebuilds. Used by the stress harness to check that every
 * history replays to its stored snapshot. NondeterminismError when the commands differ.
 */
export function replayHistory(definition: OrchestrationDefinition, history: readonly HistoryEvent[]): ReplayResult {
  if (history.length === 0) throw new NondeterminismError('an empty history cannot be replayed');
  const executionId = Math.max(...history.map((e) => e.executionId));
  const exec = replayExecution(definition, history[0]!.instanceId, history.filter((e) => e.executionId === executionId));
  const { snapshot, persisted } = storedSnapshotOf(exec);
  return {
    executionId,
    snapshot: snapshot as unknown as Json,
    context: persisted.context ?? null,
    status: exec.status,
    output: exec.output,
  };
}
