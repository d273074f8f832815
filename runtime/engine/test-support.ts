/**
 * Test helpers for the pure engine: hand-built OrchestrationItems and a tiny in-memory "store" that
 * applies a committed delta to one instance's record and history, so tests can drive several turns.
 */
import type { HistoryEvent, InstanceRecord, Json, OrchestrationDelta, OrchestrationItem, OrchestratorMessage, OrchestratorMessageKind } from '../../providers/contract.js';
import type { OrchestrationRegistry } from '../definitions/registry.js';
import type { TurnOptions, TurnOutcome } from './api.js';
import { runTurn } from './run-turn.js';

export const TEST_OPTIONS: TurnOptions = { maxAttempts: 5, onNondeterminism: 'fail', maxPayloadBytes: 100_000 };

let nextMessageId = 1;

export function message(instanceId: string, kind: OrchestratorMessageKind, payload: Json, extra: Partial<OrchestratorMessage> = {}): OrchestratorMessage {
  return {
    id: String(nextMessageId++),
    instanceId,
    kind,
    payload,
    executionId: null,
    timerId: null,
    enqueuedAt: 0,
    visibleAt: 0,
    attempt: 1,
    ...extra,
  };
}

/** The new record after committing `delta` (what a provider's ack would store). */
export function applyDelta(instanceId: string, before: InstanceRecord | null, delta: OrchestrationDelta, now: number, history: HistoryEvent[]): InstanceRecord {
  const w = delta.instance;
  for (const h of delta.history) history.push({ ...h, instanceId, at: now });
  const newExecution = before !== null && w.executionId > before.executionId;
  const currentLength = delta.history.filter((h) => h.executionId === w.executionId).length;
  const terminal = w.status === 'completed' || w.status === 'failed' || w.status === 'terminated';
  return {
    instanceId,
    name: w.name,
    version: w.version,
    executionId: w.executionId,
    status: w.status,
    stateValue: w.stateValue,
    context: w.context,
    input: w.input,
    output: w.output,
    error: w.error,
    snapshot: w.snapshot,
    definitionHash: w.definitionHash,
    parent: before?.parent ?? w.parent,
    historyLength: (before && !newExecution ? before.historyLength : 0) + currentLength,
    turns: (before?.turns ?? 0) + 1,
    createdAt: before?.createdAt ?? now,
    updatedAt: now,
    completedAt: terminal ? (before?.completedAt ?? now) : null,
  };
}

/** One instance as a provider would hold it, driven turn by turn. */
export class TestInstance {
  record: InstanceRecord | null = null;
  readonly history: HistoryEvent[] = [];
  lastDelta: OrchestrationDelta | undefined;

  constructor(
    readonly instanceId: string,
    readonly registry: OrchestrationRegistry,
    readonly options: TurnOptions = TEST_OPTIONS,
  ) {}

  message(kind: OrchestratorMessageKind, payload: Json, extra: Partial<OrchestratorMessage> = {}): OrchestratorMessage {
    return message(this.instanceId, kind, payload, extra);
  }

  item(messages: OrchestratorMessage[], now: number, attempt = 1): OrchestrationItem {
    return { instanceId: this.instanceId, lockToken: 't', executionId: this.record?.executionId ?? 1, messages, instance: this.record, attempt, now, lockedUntil: now + 30_000 };
  }

  /** Runs a turn (answering needHistory with this instance's history) and commits it. */
  turn(messages: OrchestratorMessage[], now: number, attempt = 1): TurnOutcome {
    const item = this.item(messages, now, attempt);
    let outcome = runTurn({ item, registry: this.registry, options: this.options });
    if (outcome.kind === 'needHistory') {
      const executionId = outcome.executionId;
      outcome = runTurn({ item, registry: this.registry, options: this.options, history: this.history.filter((h) => h.executionId === executionId) });
    }
    if (outcome.kind === 'commit') {
      this.record = applyDelta(this.instanceId, this.record, outcome.delta, now, this.history);
      this.lastDelta = outcome.delta;
    }
    return outcome;
  }

  /** History of the current execution (or of `executionId`). */
  executionHistory(executionId = this.record?.executionId ?? 1): HistoryEvent[] {
    return this.history.filter((h) => h.executionId === executionId);
  }
}

/** Narrows an outcome to a commit or fails the test with what it was. */
export function expectCommit(outcome: TurnOutcome): Extract<TurnOutcome, { kind: 'commit' }> {
  if (outcome.kind !== 'commit') throw new Error(`expected a commit, got ${JSON.stringify(outcome)}`);
  return outcome;
}
