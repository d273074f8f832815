/** A JSON value: what every payload, snapshot and history entry is stored as. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Runtime status of an instance (as stored). An instance whose start is still queued has no record
 * yet; clients report it as 'pending' (see Provider.hasPendingStart).
 */
export type InstanceStatus = 'running' | 'suspended' | 'completed' | 'failed' | 'terminated';

export const TERMINAL_STATUSES: readonly InstanceStatus[] = ['completed', 'failed', 'terminated'];

export function isTerminal(status: InstanceStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
