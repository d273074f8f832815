/** What a turn knows before applying anything, shared by the normal path and the paths that end it without the machine. */
import type { InstanceRecord, OrchestratorMessage, StartPayload } from '../../providers/contract.js';
import type { OrchestrationDefinition } from '../definitions/orchestration-definition.js';
import type { TurnInput } from './api.js';
import type { TurnRecorder } from './execution.js';

export interface Frame {
  input: TurnInput;
  definition: OrchestrationDefinition;
  record: InstanceRecord | null;
  start: { msg: OrchestratorMessage; payload: StartPayload } | undefined;
}

/** A fetched message consumed without being applied. */
export function recordDropped(rec: TurnRecorder, msg: OrchestratorMessage, reason: string): void {
  rec.record('dropped', { messageId: msg.id, kind: msg.kind, reason, payload: msg.payload });
  rec.log('debug', 'message dropped', { messageId: msg.id, kind: msg.kind, reason });
}
