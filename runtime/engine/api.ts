/**
 * The pure turn engine's surface, as the dispatchers call it. The engine imports xstate and the
 * contract's types only: no pg, no provider, no clock, no I/O. Everything arrives as arguments.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { HistoryEvent, Json, OrchestrationDelta, OrchestrationItem } from '../../providers/contract.js';
import type { OrchestrationRegistry } from '../definitions/registry.js';

/** A named custom action of the machine: runs once after the turn's commit, best effort. */
export interface AfterCommitAction {
  type: string;
  params: Json;
}

/** Facts for the dispatcher's logger, produced while applying the turn (never during replay). */
export interface TurnLogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, Json>;
}

export type TurnOutcome =
  /** Commit `delta` with ackOrchestrationItem; after it commits run `afterCommit`. */
  | {
      kind: 'commit';
      delta: OrchestrationDelta;
      afterCommit: AfterCommitAction[];
      log: TurnLogEntry[];
      executionId: number;
      turn: number;
      /** The machine to start the instance's next turn from, once this one has committed; null when the instance ended. */
      resume: ResumableMachine | null;
    }
  /** The snapshot is missing or its definition hash differs: read the execution's history and call again with it. */
  | { kind: 'needHistory'; executionId: number }
  /** This process does not have the orchestration (name or version): abandon with a backoff so another process can take it. */
  | { kind: 'abandon'; reason: string; delayMs: number };

export interface TurnOptions {
  /** A fetch whose attempt exceeds this fails the instance with PoisonMessageError and dead-letters the messages. */
  maxAttempts: number;
  /** On a NondeterminismError: fail the instance (default) or leave it suspended with the error. */
  onNondeterminism: 'fail' | 'suspend';
  /** Largest serialized payload (input, event, output, context) accepted, in bytes. */
  maxPayloadBytes: number;
  /** Abandon delay for messages of an instance whose start has not been processed yet. Default DEFAULT_NOT_STARTED_DELAY_MS. */
  notStartedDelayMs?: number;
  /** Abandon delay when this process lacks the orchestration (name or version). Default DEFAULT_UNKNOWN_DEFINITION_DELAY_MS. */
  unknownDefinitionDelayMs?: number;
}

export const DEFAULT_NOT_STARTED_DELAY_MS = 1000;
export const DEFAULT_UNKNOWN_DEFINITION_DELAY_MS = 5000;

/**
 * The live machine a committed turn ended with. Passed to the instance's next turn, it is used in
 * place of restoring the stored snapshot when that snapshot is exactly the one this turn committed
 * (same definition, equal JSON): restoring recreates every child actor, which for a fan-out was most
 * of each later turn. Continuing the live machine is what a replay of the history does too.
 */
export interface ResumableMachine {
  definitionHash: string;
  /** The persisted machine as the turn committed it: InstanceRecord.snapshot's `machine` with the record's context. */
  persisted: Json;
  machine: AnyMachineSnapshot;
}

export interface TurnInput {
  item: OrchestrationItem;
  registry: OrchestrationRegistry;
  /** The current execution's history, passed after a 'needHistory' outcome. */
  history?: HistoryEvent[];
  options: TurnOptions;
  /** What the instance's previous turn in this process ended with, if the caller kept it. */
  resume?: ResumableMachine;
}
