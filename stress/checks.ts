/**
 * The end-of-run checks, pure: they read what the collector gathered (instances, histories, the
 * run log, queue depths, replay outcomes) and the plan, and list every violation they find. Kept
 * free of I/O so stress/test/checks.test.ts can feed them hand-made broken data.
 */
import { isDeepStrictEqual } from 'node:util';
import type { HistoryEvent, InstanceStatus, Json, QueueDepths } from '../runtime/index.js';
import type { PlannedInstance } from './workloads/plan.js';
import type { WorkRun } from './workloads/work-activity.js';

export interface ObservedInstance {
  instanceId: string;
  name: string;
  status: InstanceStatus;
  output: Json | null;
  executionId: number;
  /** History of every execution, in (executionId, seq) order. */
  history: HistoryEvent[];
}

export interface ReplayOutcome {
  instanceId: string;
  /** Null when the replayed snapshot, context, status and output equal the stored ones; else what differed. */
  problem: string | null;
}

export interface Observations {
  instances: ObservedInstance[];
  runs: WorkRun[];
  depths: QueueDepths;
  /** Plan ids with no instance record whose start is still queued. */
  pendingStarts: string[];
  replays: ReplayOutcome[];
}

export interface CheckResult {
  name: string;
  /** What the check covered (instances, keys...), to show it did not pass vacuously. */
  checked: number;
  failures: string[];
}

const TERMINAL = new Set(['completed', 'failed', 'terminated']);
const show = (value: unknown): string => JSON.stringify(value)?.slice(0, 300) ?? 'undefined';

/** Every planned instance completed with exactly the output it must have. */
export function checkFinalStates(plan: readonly PlannedInstance[], obs: Observations): CheckResult {
  const byId = new Map(obs.instances.map((i) => [i.instanceId, i]));
  const failures: string[] = [];
  for (const p of plan) {
    const got = byId.get(p.instanceId);
    if (!got) failures.push(`${p.instanceId}: no instance record`);
    else if (got.status !== 'completed') failures.push(`${p.instanceId}: status ${got.status}, expected completed`);
    else if (!isDeepStrictEqual(got.output, p.expectedOutput)) failures.push(`${p.instanceId}: output ${show(got.output)}, expected ${show(p.expectedOutput)}`);
  }
  return { name: 'final state and output', checked: plan.length, failures };
}

/**
 * Each execution ended exactly once: the newest with one terminal record, each earlier one with one
 * continuedAsNew and no terminal record.
 */
export function checkEndedOnce(obs: Observations): CheckResult {
  const failures: string[] = [];
  for (const inst of obs.instances) {
    for (let e = 1; e <= inst.executionId; e++) {
      const types = inst.history.filter((h) => h.executionId === e).map((h) => h.type);
      const terminal = types.filter((t) => TERMINAL.has(t)).length;
      const continued = types.filter((t) => t === 'continuedAsNew').length;
      const [wantTerminal, wantContinued] = e === inst.executionId ? [TERMINAL.has(inst.status) ? 1 : 0, 0] : [0, 1];
      if (terminal !== wantTerminal || continued !== wantContinued) {
        failures.push(`${inst.instanceId} execution ${e}: ${terminal} terminal and ${continued} continuedAsNew records, expected ${wantTerminal} and ${wantContinued}`);
      }
    }
  }
  return { name: 'each execution ended once', checked: obs.instances.length, failures };
}

/** Nothing is left running or queued: every instance (children too) is terminal, no start or message waits, no dead letters. */
export function checkNothingStuck(obs: Observations): CheckResult {
  const failures: string[] = [];
  for (const inst of obs.instances) if (!TERMINAL.has(inst.status)) failures.push(`${inst.instanceId}: still ${inst.status}`);
  for (const id of obs.pendingStarts) failures.push(`${id}: start still queued`);
  const { orchestrator: o, worker: w, deadLetters } = obs.depths;
  const queued = o.visible + o.delayed + o.locked + w.visible + w.delayed + w.locked;
  if (queued > 0) failures.push(`queues not empty: ${show(obs.depths)}`);
  if (deadLetters > 0) failures.push(`${deadLetters} dead letters`);
  return { name: 'nothing stuck', checked: obs.instances.length, failures };
}

/** The run log holds at least one attempt of every expected activity key. */
export function checkActivitiesRan(plan: readonly PlannedInstance[], obs: Observations): CheckResult {
  const ran = new Set(obs.runs.map((r) => r.key));
  const keys = plan.flatMap((p) => p.expectedKeys);
  const failures = keys.filter((k) => !ran.has(k)).map((k) => `${k}: never ran`);
  return { name: 'every activity ran', checked: keys.length, failures };
}

/** The key of an applied activity result, from a history 'event' record (see the engine's EventData). */
function appliedResultKey(h: HistoryEvent): string | null {
  const data = h.data as { kind?: string; payload?: { output?: { key?: unknown } } } | null;
  if (h.type !== 'event' || data?.kind !== 'activityCompleted') return null;
  const key = data.payload?.output?.key;
  return typeof key === 'string' ? key : null;
}

/** Over all histories, every expected key's result was applied exactly once, and no unexpected result was applied. */
export function checkResultsAppliedOnce(plan: readonly PlannedInstance[], obs: Observations): CheckResult {
  const applied = new Map<string, number>();
  for (const inst of obs.instances) {
    for (const h of inst.history) {
      const key = appliedResultKey(h);
      if (key !== null) applied.set(key, (applied.get(key) ?? 0) + 1);
    }
  }
  const expected = new Set(plan.flatMap((p) => p.expectedKeys));
  const failures: string[] = [];
  for (const key of expected) {
    const n = applied.get(key) ?? 0;
    if (n !== 1) failures.push(`${key}: result applied ${n} times`);
  }
  for (const key of applied.keys()) if (!expected.has(key)) failures.push(`${key}: result applied but never planned`);
  return { name: 'each result applied once', checked: expected.size, failures };
}

/** Every instance's history replays to the snapshot, context, status and output it stored. */
export function checkReplays(obs: Observations): CheckResult {
  const failures = obs.replays.filter((r) => r.problem !== null).map((r) => `${r.instanceId}: ${r.problem}`);
  const replayed = new Set(obs.replays.map((r) => r.instanceId));
  for (const i of obs.instances) if (!replayed.has(i.instanceId)) failures.push(`${i.instanceId}: not replayed`);
  return { name: 'history replays to snapshot', checked: obs.replays.length, failures };
}

export function runChecks(plan: readonly PlannedInstance[], obs: Observations): CheckResult[] {
  return [
    checkFinalStates(plan, obs),
    checkEndedOnce(obs),
    checkNothingStuck(obs),
    checkActivitiesRan(plan, obs),
    checkResultsAppliedOnce(plan, obs),
    checkReplays(obs),
  ];
}
