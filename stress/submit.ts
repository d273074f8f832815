/**
 * The driver's side of the workload: starts and events, in plan order, each at its time. Transient
 * failures are retried; a start whose outcome was unknown and then reports "exists" did happen. An
 * event whose outcome is unknown cannot be retried without risking a duplicate, so it is an error
 * of the run (the restart lock makes this unreachable in practice: see Exclusive).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InstanceExistsError, OutcomeUnknownError, RetryableProviderError, type Client } from '../runtime/index.js';
import type { Exclusive } from './exclusive.js';
import type { PlannedInstance } from './workloads/plan.js';

type Step = { atMs: number; order: number; run: (client: Client) => Promise<void> };

const RETRY_FOR_MS = 60_000;

async function withRetries(what: string, fn: () => Promise<void>, retryUnknown: boolean): Promise<void> {
  const deadline = Date.now() + RETRY_FOR_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const retryable = err instanceof RetryableProviderError && (retryUnknown || !(err instanceof OutcomeUnknownError));
      if (!retryable || Date.now() > deadline) throw new Error(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      await sleep(Math.min(100 * attempt, 1000));
    }
  }
}

function stepsOf(plan: readonly PlannedInstance[]): Step[] {
  const steps: Step[] = [];
  for (const p of plan) {
    let retried = false;
    steps.push({
      atMs: p.startAtMs,
      order: steps.length,
      run: (client) =>
        withRetries(`start ${p.instanceId}`, async () => {
          try {
            await client.start(p.name, p.input, { instanceId: p.instanceId });
          } catch (err) {
            if (!(retried && err instanceof InstanceExistsError)) {
              retried = true;
              throw err;
            }
          }
        }, true),
    });
    for (const e of p.events) {
      steps.push({ atMs: e.atMs, order: steps.length, run: (client) => withRetries(`event ${e.event.n} to ${p.instanceId}`, () => client.raiseEvent(p.instanceId, e.event), false) });
    }
  }
  // Stable by time, then plan order: a start precedes its own events, and an instance's events keep their order.
  return steps.sort((a, b) => a.atMs - b.atMs || a.order - b.order);
}

/** Submit everything; resolves when the last step is done. `t0` is the run's start (epoch ms). */
export async function submitPlan(client: Client, plan: readonly PlannedInstance[], t0: number, exclusive: Exclusive): Promise<void> {
  for (const step of stepsOf(plan)) {
    const wait = t0 + step.atMs - Date.now();
    if (wait > 0) await sleep(wait);
    await exclusive.run(() => step.run(client));
  }
}
