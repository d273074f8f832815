/**
 * Turns that end without applying messages to the machine: a terminal instance consuming late
 * messages, poison, a nondeterministic definition, and a turn that broke a rule (whose computed
 * results are all discarded). They write from the state BEFORE the turn.
 */
import type { InstanceRecord, Json, OrchestrationDelta } from '../../providers/contract.js';
import type { TurnOutcome } from './api.js';
import { parentNotification } from './delta.js';
import { toErrorInfo } from './error-info.js';
import { TurnRecorder } from './execution.js';
import type { NondeterminismError } from '../errors.js';
import { outstandingActivityIds } from './fan-out-state.js';
import { emptyPending, readStoredSnapshot } from './stored-snapshot.js';
import { recordDropped, type Frame } from './turn-frame.js';
import { turnMessages } from './result-groups.js';

/** A terminal instance: every message is consumed and recorded as dropped; nothing else changes. */
export function consumeAfterEnd(frame: Frame): TurnOutcome {
  const record = frame.record!;
  const rec = new TurnRecorder(record.executionId, record.historyLength, false);
  for (const msg of turnMessages(frame.input.item.messages)) recordDropped(rec, msg, `instance is ${record.status}`);
  return commitWithoutMachine(frame, rec, writeOfRecord(record), [], []);
}

export function onNondeterminism(frame: Frame, err: NondeterminismError): TurnOutcome {
  const { item, options } = frame.input;
  // A terminate must always work, or a stuck instance could never be ended.
  if (item.messages.some((m) => m.kind === 'terminate')) return endWithoutMachine(frame, { status: 'terminated', error: err });
  if (options.onNondeterminism === 'fail') return endWithoutMachine(frame, { status: 'failed', error: err });
  // Suspended with the error: messages wait for a fix, except 'resume' (it would be re-fetched at once).
  const keep = item.messages.filter((m) => m.kind !== 'resume').map((m) => m.id);
  return endWithoutMachine(frame, { status: 'suspended', error: err, keep });
}

interface EndWithoutMachine {
  status: 'failed' | 'suspended' | 'terminated';
  error: Error;
  deadLetter?: boolean;
  keep?: string[];
}

/**
 * Ends the turn from the state BEFORE it (nothing the turn computed is written): the instance gets the
 * status and error, its outstanding work is cancelled (terminal statuses), the parent is told, and the
 * fetched messages are dropped, dead-lettered or kept.
 */
export function endWithoutMachine(frame: Frame, end: EndWithoutMachine): TurnOutcome {
  const { item } = frame.input;
  const record = frame.record;
  const error = toErrorInfo(end.error);
  const rec = new TurnRecorder(record?.executionId ?? item.executionId, record?.historyLength ?? 0, false);
  const keep = new Set(end.keep ?? []);
  const consumed = item.messages.filter((m) => !keep.has(m.id));
  for (const msg of turnMessages(consumed)) recordDropped(rec, msg, end.deadLetter ? 'dead-lettered' : `instance ${end.status}: ${error.message}`);
  const pending = readStoredSnapshot(record?.snapshot ?? null)?.pending ?? emptyPending();
  const cancels = end.status === 'suspended' ? emptyPending() : pending;
  const cancelled = {
    activities: outstandingActivityIds(cancels),
    timers: Object.keys(cancels.timers),
    children: Object.keys(cancels.children),
  };
  rec.record(end.status === 'suspended' ? 'nondeterminism' : end.status, { error: error as unknown as Json, cancelled });
  rec.log(end.status === 'suspended' ? 'warn' : 'error', `orchestration ${end.status}`, { code: error.code ?? null, error: error.message });
  const write = record ? writeOfRecord(record) : writeOfStart(frame);
  write.status = end.status;
  write.error = error;
  const messages: OrchestrationDelta['messages'] = cancelled.children.map((childInstanceId) => ({
    instanceId: childInstanceId,
    kind: 'terminate' as const,
    payload: { reason: `parent '${item.instanceId}' ${end.status}` },
  }));
  const notify = parentNotification(item.instanceId, write.parent, end.status, null, error);
  if (notify) messages.push(notify);
  return commitWithoutMachine(frame, rec, write, [...keep], end.deadLetter ? consumed.map((m) => m.id) : [], {
    messages,
    cancelActivities: cancelled.activities,
    cancelTimers: cancelled.timers,
    deadLetterReason: end.deadLetter ? error.message : undefined,
  });
}

function commitWithoutMachine(
  frame: Frame,
  rec: TurnRecorder,
  write: OrchestrationDelta['instance'],
  keep: string[],
  deadLetter: string[],
  extra: { messages?: OrchestrationDelta['messages']; cancelActivities?: string[]; cancelTimers?: string[]; deadLetterReason?: string | undefined } = {},
): TurnOutcome {
  const delta: OrchestrationDelta = {
    instance: write,
    history: rec.history,
    messages: extra.messages ?? [],
    timers: [],
    workItems: [],
    cancelTimers: extra.cancelTimers ?? [],
    cancelActivities: extra.cancelActivities ?? [],
    keepMessageIds: keep,
    deadLetterMessageIds: deadLetter,
    ...(extra.deadLetterReason !== undefined ? { deadLetterReason: extra.deadLetterReason } : {}),
  };
  return { kind: 'commit', delta, afterCommit: [], log: rec.logs, executionId: write.executionId, turn: (frame.record?.turns ?? 0) + 1, resume: null };
}

function writeOfRecord(r: InstanceRecord): OrchestrationDelta['instance'] {
  return {
    name: r.name,
    version: r.version,
    executionId: r.executionId,
    status: r.status,
    stateValue: r.stateValue,
    context: r.context,
    input: r.input,
    output: r.output,
    error: r.error,
    snapshot: r.snapshot,
    definitionHash: r.definitionHash,
    parent: r.parent,
  };
}

/** The row of an instance that fails in its very first turn: no snapshot, so any later turn would replay. */
function writeOfStart(frame: Frame): OrchestrationDelta['instance'] {
  const payload = frame.start!.payload;
  return {
    name: frame.definition.name,
    version: frame.definition.version,
    executionId: frame.input.item.executionId,
    status: 'failed',
    stateValue: null,
    context: null,
    input: payload.input ?? null,
    output: null,
    error: null,
    snapshot: null,
    definitionHash: frame.definition.definitionHash,
    parent: payload.parent ?? null,
  };
}
