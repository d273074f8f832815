/**
 * The mixed workload of one stress run, decided up front: which instances start when, which events
 * the driver raises to them and when, and what each must end with (output and activity keys),
 * computed from `workResult` without running anything.
 */
import type { Json } from '../../runtime/index.js';
import { workResult } from './work-activity.js';
import { workKey, type ChainOutput, type FanoutOutput } from './orchestrations.js';

export interface PlannedEvent {
  /** Milliseconds after the run starts. */
  atMs: number;
  event: { type: string; n: number };
}

export interface PlannedInstance {
  instanceId: string;
  name: string;
  input: Json;
  startAtMs: number;
  events: PlannedEvent[];
  expectedOutput: Json;
  /** Every activity key of the instance's tree (children and all generations included). */
  expectedKeys: string[];
}

export interface PlanOptions {
  runId: string;
  instances: number;
  /** Starts and events are spread over this window. */
  durationMs: number;
  fanoutWidth: number;
  chainSteps: number;
  generations: number;
  eventsPerInstance: number;
}

const KINDS = ['chain', 'timer', 'events', 'parent', 'generations', 'chain', 'events', 'fanout', 'gather', 'gatherBatches'] as const;

function chainExpectation(root: string, prefix: string, steps: number): ChainOutput {
  const applied: string[] = [];
  let total = 0;
  for (let i = 0; i < steps; i++) {
    const r = workResult({ key: workKey(root, `${prefix}-${i}`), value: i });
    applied.push(r.key);
    total += r.value;
  }
  return { total, applied };
}

/** What a fan-out of `width` work items labelled `<label>-<i>` ends with, in input order. */
function fanExpectation(root: string, label: string, width: number): FanoutOutput {
  const results = Array.from({ length: width }, (_, i) => workResult({ key: workKey(root, `${label}-${i}`), value: i }));
  return { count: width, total: results.reduce((n, r) => n + r.value, 0), applied: results.map((r) => r.key) };
}

function planOne(kind: (typeof KINDS)[number], root: string, startAtMs: number, o: PlanOptions): PlannedInstance {
  const base = { instanceId: root, startAtMs, events: [] as PlannedEvent[] };
  switch (kind) {
    case 'chain': {
      const out = chainExpectation(root, 'step', o.chainSteps);
      return { ...base, name: 'stress.chain', input: { root, prefix: 'step', steps: o.chainSteps }, expectedOutput: out, expectedKeys: out.applied };
    }
    case 'fanout': {
      // Spawned children finish in any order: the machine sorts what it applied.
      const out = fanExpectation(root, 'fan', o.fanoutWidth);
      const expectedOutput = { ...out, applied: [...out.applied].sort() };
      return { ...base, name: 'stress.fanout', input: { root, width: o.fanoutWidth }, expectedOutput, expectedKeys: expectedOutput.applied };
    }
    case 'gather':
    case 'gatherBatches': {
      // fanOut() hands the outputs over in input order, batched or not.
      const out = fanExpectation(root, 'gather', o.fanoutWidth);
      const name = kind === 'gather' ? 'stress.gather' : 'stress.gather-batches';
      return { ...base, name, input: { root, width: o.fanoutWidth }, expectedOutput: out, expectedKeys: out.applied };
    }
    case 'timer': {
      // Timers of up to half the window, so some fire while chaos is under way.
      const delayMs = 200 + Math.floor(Math.random() * (o.durationMs / 2));
      const key = workKey(root, 'timer');
      return { ...base, name: 'stress.timer', input: { root, delayMs }, expectedOutput: { slept: delayMs, applied: [key] }, expectedKeys: [key] };
    }
    case 'events': {
      const n = o.eventsPerInstance;
      // Half right after the start (often before its first turn), the rest later in the window, in order.
      const late = startAtMs + Math.random() * Math.max(0, o.durationMs - startAtMs);
      const events = Array.from({ length: n }, (_, i) => ({ atMs: i < n / 2 ? startAtMs : late, event: { type: 'PING', n: i } }));
      const key = workKey(root, 'events');
      return {
        ...base, events, name: 'stress.events',
        input: { root, expected: n, timeoutMs: 10 * 60_000 },
        expectedOutput: { received: events.map((e) => e.event.n), applied: [key], timedOut: false },
        expectedKeys: [key],
      };
    }
    case 'parent': {
      const child = chainExpectation(root, 'child', o.chainSteps);
      const key = workKey(root, 'parent');
      return { ...base, name: 'stress.parent', input: { root, childSteps: o.chainSteps }, expectedOutput: { child, applied: [key] }, expectedKeys: [...child.applied, key] };
    }
    case 'generations': {
      const results = Array.from({ length: o.generations }, (_, g) => workResult({ key: workKey(root, `gen-${g}`), value: g }));
      const applied = results.map((r) => r.key);
      return {
        ...base, name: 'stress.generations',
        input: { root, generation: 0, generations: o.generations, total: 0, applied: [] },
        expectedOutput: { generation: o.generations - 1, total: results.reduce((n, r) => n + r.value, 0), applied },
        expectedKeys: applied,
      };
    }
  }
}

/** Instances cycle through the shapes; starts are spread over most of the window so work is in flight whenever chaos strikes. */
export function planWorkload(o: PlanOptions): PlannedInstance[] {
  return Array.from({ length: o.instances }, (_, i) => {
    const kind = KINDS[i % KINDS.length]!;
    const startAtMs = Math.floor((i / o.instances) * o.durationMs * 0.7);
    return planOne(kind, `${o.runId}-${kind}-${i}`, startAtMs, o);
  });
}
