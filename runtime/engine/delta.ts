/**
 * Turning a turn's commands into the parts of an OrchestrationDelta. Work created and cancelled in
 * the same turn is elided (never written), so the provider never sees an insert and a delete of the
 * same id in one ack, whatever order it applies them in.
 */
import type {
  ErrorInfo, InstanceStatus, Json, OrchestrationDelta, OrchestratorMessageInput, ParentRef, StartPayload, WorkItemInput,
} from '../../providers/contract.js';
import { isTerminal } from '../../providers/types.js';
import type { AfterCommitAction } from './api.js';
import type { RecordedCommand } from './execution.js';
import { batchActivityId, batchRanges, elementActivityId, type FanOutBatch } from './fan-out-state.js';

export type DeltaWork = Pick<OrchestrationDelta, 'messages' | 'timers' | 'workItems' | 'cancelTimers' | 'cancelActivities'>;

/**
 * A work item carries what its worker reads: the input (or a batch's inputs). The activity's options
 * stay in the scheduling command (history, where replay compares them); the worker takes its retry
 * policy and timeouts from its own definition. Carried in every item until 12-05, they were ~100 of
 * its ~140 bytes, written, locked and read back 1,000 times in a 1,000-wide fan-out.
 */
function workItem(instanceId: string, executionId: number, activityId: string, name: string, input: Json): WorkItemInput {
  return { instanceId, executionId, activityId, name, payload: { input } };
}

export function deltaOfCommands(instanceId: string, commands: readonly RecordedCommand[]): DeltaWork & { afterCommit: AfterCommitAction[] } {
  const out: DeltaWork & { afterCommit: AfterCommitAction[] } = { messages: [], timers: [], workItems: [], cancelTimers: [], cancelActivities: [], afterCommit: [] };
  for (const { executionId, command: c } of commands) {
    switch (c.type) {
      case 'scheduleActivity':
        out.workItems.push(workItem(instanceId, executionId, c.activityId, c.name, c.input));
        break;
      case 'scheduleFanOut':
        if (c.batchSize !== undefined && c.batchSize > 1) {
          for (const [first, last] of batchRanges(c.inputs.length, c.batchSize)) {
            const batch: FanOutBatch = { fanOutId: c.fanOutId, first, inputs: c.inputs.slice(first, last + 1) };
            out.workItems.push({ instanceId, executionId, activityId: batchActivityId(c.fanOutId, first, last), name: c.name, payload: { batch } as unknown as Json });
          }
        } else {
          c.inputs.forEach((input, index) => out.workItems.push(workItem(instanceId, executionId, elementActivityId(c.fanOutId, index), c.name, input)));
        }
        break;
      case 'cancelActivity': {
        const i = out.workItems.findIndex((w) => w.activityId === c.activityId && w.executionId === executionId);
        if (i >= 0) out.workItems.splice(i, 1);
        else out.cancelActivities.push(c.activityId);
        break;
      }
      case 'createTimer':
        out.timers.push({ timerId: c.timerId, fireAt: c.fireAt, executionId, payload: { timerId: c.timerId, event: c.event } });
        break;
      case 'cancelTimer': {
        const i = out.timers.findIndex((t) => t.timerId === c.timerId);
        if (i >= 0) out.timers.splice(i, 1);
        else out.cancelTimers.push(c.timerId);
        break;
      }
      case 'startChild': {
        const parent: ParentRef = { instanceId, executionId, invokeId: c.invokeId };
        const payload: StartPayload = { name: c.name, input: c.input, parent, ...(c.version !== null ? { version: c.version } : {}) };
        out.messages.push({ instanceId: c.childInstanceId, kind: 'start', payload: payload as unknown as Json });
        break;
      }
      case 'terminateChild': {
        const i = out.messages.findIndex((m) => m.kind === 'start' && m.instanceId === c.childInstanceId);
        if (i >= 0) out.messages.splice(i, 1);
        else out.messages.push({ instanceId: c.childInstanceId, kind: 'terminate', payload: { reason: `stopped by parent '${instanceId}'` } });
        break;
      }
      case 'afterCommit':
        out.afterCommit.push({ type: c.action, params: c.params });
        break;
      case 'continueAsNew':
        break; // carried by InstanceWrite.executionId/input
    }
  }
  return out;
}

/** The message telling a parent that this child reached a terminal status (terminated counts as failed). */
export function parentNotification(
  instanceId: string,
  parent: ParentRef | null,
  status: InstanceStatus,
  output: Json | null,
  error: ErrorInfo | null,
): OrchestratorMessageInput | undefined {
  if (parent === null || !isTerminal(status)) return undefined;
  const base = { invokeId: parent.invokeId, childInstanceId: instanceId };
  return status === 'completed'
    ? { instanceId: parent.instanceId, executionId: parent.executionId, kind: 'childCompleted', payload: { ...base, output } }
    : {
        instanceId: parent.instanceId,
        executionId: parent.executionId,
        kind: 'childFailed',
        payload: { ...base, error: (error ?? { name: 'Error', message: `child ended as ${status}` }) as unknown as Json },
      };
}
