/**
 * The working state of one execution while a turn (or a replay) applies messages, and the recorder
 * that collects what the turn produces: history events, commands and log facts.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { ErrorInfo, HistoryEventInput, InstanceStatus, Json } from '../../providers/contract.js';
import type { OrchestrationDefinition } from '../definitions/orchestration-definition.js';
import type { TurnLogEntry } from './api.js';
import type { Command } from './commands.js';
import { emptyPending, type Pending } from './stored-snapshot.js';

export interface Execution {
  readonly instanceId: string;
  readonly definition: OrchestrationDefinition;
  executionId: number;
  /** The input of this execution. */
  input: Json;
  /** The live machine snapshot; null until the execution's 'started' event is applied. */
  machine: AnyMachineSnapshot | null;
  pending: Pending;
  /** Last number used in durable ids (activity, timer, child instance) in this execution. */
  counter: number;
  status: InstanceStatus;
  output: Json | null;
  error: ErrorInfo | null;
  /** Largest serialised payload accepted (bytes); undefined during replay (recorded values were accepted). */
  maxPayloadBytes: number | undefined;
}

/**
 * An execution before its 'started' event: no machine yet, nothing outstanding, running. Written out
 * field by field, and changed afterwards only by assignment, so every Execution has one shape (built
 * by spreads, they took several, and the engine's property reads went megamorphic).
 */
export function freshExecution(init: Pick<Execution, 'instanceId' | 'definition' | 'executionId' | 'input' | 'maxPayloadBytes'>): Execution {
  return {
    instanceId: init.instanceId,
    definition: init.definition,
    executionId: init.executionId,
    input: init.input,
    machine: null,
    pending: emptyPending(),
    counter: 0,
    status: 'running',
    output: null,
    error: null,
    maxPayloadBytes: init.maxPayloadBytes,
  };
}

export interface RecordedCommand {
  executionId: number;
  command: Command;
}

export class TurnRecorder {
  readonly history: HistoryEventInput[] = [];
  readonly commands: RecordedCommand[] = [];
  readonly logs: TurnLogEntry[] = [];

  constructor(
    private executionId: number,
    private nextSeq: number,
    /** Replays record history and commands (to compare them) but produce no log facts. */
    readonly replaying: boolean,
  ) {}

  /** Appends a history event and returns its seq. */
  record(type: string, data: Json): number {
    const seq = this.nextSeq++;
    this.history.push({ executionId: this.executionId, seq, type, data });
    return seq;
  }

  command(command: Command): void {
    this.record('command', command as unknown as Json);
    this.commands.push({ executionId: this.executionId, command });
  }

  log(level: TurnLogEntry['level'], msg: string, fields?: Record<string, Json>): void {
    if (!this.replaying) this.logs.push(fields ? { level, msg, fields } : { level, msg });
  }

  /** Replay: the next entry is applied at its recorded seq. */
  seekTo(seq: number): void {
    this.nextSeq = seq;
  }

  /** Continue-as-new: later events belong to the new execution, whose history starts at seq 0. */
  beginExecution(executionId: number): void {
    this.executionId = executionId;
    this.nextSeq = 0;
  }
}
