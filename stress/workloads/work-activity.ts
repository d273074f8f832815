/**
 * The one activity every workload invokes. Its result is a pure function of its input (see
 * `workResult`), so the driver can compute every instance's expected output in advance. Under
 * stress it also records each run (at-least-once evidence) and fails some first attempts on
 * purpose, so retries are part of every chaos run; benchmarks register it without either.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { defineActivity, type ActivityDefinition } from '../../runtime/index.js';

export const WORK_ACTIVITY = 'stress.work';

export type WorkInput = { key: string; value: number };
export type WorkOutput = { key: string; value: number };

export interface WorkRun {
  key: string;
  instanceId: string;
  executionId: number;
  activityId: string;
  attempt: number;
}

export interface WorkBehaviour {
  /** Called at the start of every attempt (before any planned failure). */
  record?: (run: WorkRun) => Promise<void>;
  /** Fail the first attempt of keys chosen by `failsFirstAttempt`. */
  flaky?: boolean;
  /** Sleep up to this long per attempt, so kills land mid-activity. */
  maxSleepMs?: number;
}

export function workResult(input: WorkInput): WorkOutput {
  return { key: input.key, value: input.value * 2 + 1 };
}

/** About one key in seven, chosen by a hash of the key so it is the same in every process. */
export function failsFirstAttempt(key: string): boolean {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(h) % 7 === 0;
}

export function defineWorkActivity(behaviour: WorkBehaviour = {}): ActivityDefinition<WorkInput, WorkOutput> {
  return defineActivity<WorkInput, WorkOutput>(
    WORK_ACTIVITY,
    async (input, ctx) => {
      await behaviour.record?.({ key: input.key, instanceId: ctx.instanceId, executionId: ctx.executionId, activityId: ctx.activityId, attempt: ctx.attempt });
      if (behaviour.maxSleepMs) await sleep(Math.random() * behaviour.maxSleepMs, undefined, { signal: ctx.signal });
      if (behaviour.flaky && ctx.attempt === 1 && failsFirstAttempt(input.key)) throw new Error(`planned first-attempt failure of ${input.key}`);
      return workResult(input);
    },
    // Short backoff: a planned failure should cost milliseconds, not the run's time budget.
    { retry: { maxAttempts: 10, initialMs: 20, backoff: 2, maxMs: 500 }, timeoutMs: 30_000 },
  );
}
