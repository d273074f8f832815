/**
 * What callers see of an instance: the stored record minus the engine's internals (snapshot,
 * hash, counters), plus the 'pending' status of an instance whose start is still queued.
 */
import type { ErrorInfo, InstanceRecord, InstanceStatus, Json } from '../../providers/contract.js';

export type ClientInstanceStatus = InstanceStatus | 'pending';

export interface InstanceStatusView<TOutput = Json, TContext = Json> {
  instanceId: string;
  /** Null while pending: the queued start is not readable through the provider. */
  name: string | null;
  version: string | null;
  status: ClientInstanceStatus;
  /** The XState state value after the last turn; null while pending. */
  stateValue: Json | null;
  context: TContext | null;
  output: TOutput | null;
  error: ErrorInfo | null;
  /** The current execution; null while pending. */
  executionId: number | null;
  createdAt: number | null;
  updatedAt: number | null;
  completedAt: number | null;
}

export function statusFromRecord<TOutput, TContext>(record: InstanceRecord): InstanceStatusView<TOutput, TContext> {
  return {
    instanceId: record.instanceId,
    name: record.name,
    version: record.version,
    status: record.status,
    stateValue: record.stateValue,
    context: record.context as TContext,
    output: record.output as TOutput | null,
    error: record.error,
    executionId: record.executionId,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    completedAt: record.completedAt,
  };
}

export function pendingStatus<TOutput, TContext>(instanceId: string): InstanceStatusView<TOutput, TContext> {
  return {
    instanceId, name: null, version: null, status: 'pending', stateValue: null, context: null, output: null,
    error: null, executionId: null, createdAt: null, updatedAt: null, completedAt: null,
  };
}
