/**
 * Normalised commands: what the machine asked for in one step, in a JSON form that is recorded in
 * history (type 'command') and compared on replay. Each becomes part of the OrchestrationDelta.
 */
import type { Json } from '../../providers/types.js';

export type Command =
  | { type: 'scheduleActivity'; activityId: string; invokeId: string; name: string; input: Json; options: Json }
  /**
   * Every element of a fanOut(): element i runs as activity `<fanOutId>[i]`, queued one work item
   * each, or batchSize at a time (fan-out-state.ts).
   */
  | { type: 'scheduleFanOut'; fanOutId: string; invokeId: string; name: string; inputs: Json[]; options: Json; batchSize?: number }
  | { type: 'cancelActivity'; activityId: string }
  | { type: 'startChild'; childInstanceId: string; invokeId: string; name: string; version: string | null; input: Json }
  | { type: 'terminateChild'; childInstanceId: string }
  | { type: 'createTimer'; timerId: string; sendId: string | null; fireAt: number; event: Json }
  | { type: 'cancelTimer'; timerId: string }
  | { type: 'afterCommit'; action: string; params: Json }
  | { type: 'continueAsNew'; input: Json };
