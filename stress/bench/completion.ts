/**
 * Waiting for a batch of benchmark instances to finish and reading when they did: the instances'
 * own completedAt (database clock, same host), so the poll interval does not blur the figure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { InstanceRecord, Provider } from '../../runtime/index.js';
import { listAllInstances } from '../collect.js';

/**
 * `whenIdle` runs once, when the queues are first seen empty and before the instances are listed: a
 * benchmark stops its CPU meter there, so the listing (6.8 ms of server CPU per 500 instances) is
 * not counted as the work measured.
 */
export async function waitAllCompleted(provider: Provider, expected: number, timeoutMs: number, whenIdle?: () => Promise<unknown>): Promise<InstanceRecord[]> {
  const deadline = Date.now() + timeoutMs;
  let onIdle = whenIdle;
  for (;;) {
    const d = await provider.queueDepths();
    const idle = d.orchestrator.visible + d.orchestrator.locked + d.worker.visible + d.worker.locked + d.worker.delayed === 0;
    if (idle) {
      await onIdle?.();
      onIdle = undefined;
      const all = await listAllInstances(provider);
      const done = all.filter((r) => r.status === 'completed');
      if (done.length >= expected) return done;
      if (all.some((r) => r.status === 'failed' || r.status === 'terminated')) throw new Error('a benchmark instance did not complete');
    }
    if (Date.now() > deadline) throw new Error(`benchmark instances not completed after ${timeoutMs} ms: ${JSON.stringify(d)}`);
    await sleep(100);
  }
}

/** Seconds from `startedAt` (epoch ms) to the last completion. */
export function secondsUntilLast(records: readonly InstanceRecord[], startedAt: number): number {
  return (Math.max(...records.map((r) => r.completedAt ?? 0)) - startedAt) / 1000;
}
