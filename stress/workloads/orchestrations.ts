/**
 * The stress workloads as orchestrations: one of each shape the engine must survive (activity
 * chains, fan-out/fan-in, durable timers, external events, child orchestrations, continue-as-new).
 * Every activity key starts with the root instance id, so one run's keys are globally unique and
 * the checks can tie each recorded run and each applied result back to its instance. Outputs are
 * sorted or ordered deterministically so the driver can predict them exactly.
 */
import { assign, enqueueActions, setup, type PromiseActorLogic } from 'xstate';
import { activity, continueAsNew, defineOrchestration, fanOut, orchestration } from '../../runtime/index.js';
import { defineWorkActivity, type WorkInput, type WorkOutput } from './work-activity.js';

/** The placeholder only carries the activity's name and policy; each process registers its own implementation. */
const work = activity(defineWorkActivity());

export const workKey = (root: string, label: string): string => `${root}/${label}`;

type WorkDone = { type: `xstate.done.actor.${string}`; output: WorkOutput };

// ---------------------------------------------------------------- chain: sequential activities

export type ChainInput = { root: string; prefix: string; steps: number };
export type ChainOutput = { total: number; applied: string[] };

const chainMachine = setup({
  types: {} as { input: ChainInput; context: ChainInput & { i: number; total: number; applied: string[] }; output: ChainOutput },
  actors: { work },
}).createMachine({
  id: 'chain',
  context: ({ input }) => ({ ...input, i: 0, total: 0, applied: [] }),
  initial: 'step',
  states: {
    step: {
      invoke: {
        id: 'work',
        src: 'work',
        input: ({ context }): WorkInput => ({ key: workKey(context.root, `${context.prefix}-${context.i}`), value: context.i }),
        onDone: {
          target: 'next',
          actions: assign(({ context, event }) => ({
            i: context.i + 1,
            total: context.total + event.output.value,
            applied: [...context.applied, event.output.key],
          })),
        },
      },
    },
    next: {
      always: [{ guard: ({ context }) => context.i < context.steps, target: 'step' }, { target: 'done' }],
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ total: context.total, applied: context.applied }),
});
export const chain = defineOrchestration('stress.chain', chainMachine);

// ---------------------------------------------------------------- fan-out / fan-in

export type FanoutInput = { root: string; width: number };
export type FanoutOutput = { count: number; total: number; applied: string[] };

const fanoutMachine = setup({
  types: {} as { input: FanoutInput; context: FanoutInput & { total: number; applied: string[] }; events: WorkDone; output: FanoutOutput },
  actors: { work },
}).createMachine({
  id: 'fanout',
  context: ({ input }) => ({ ...input, total: 0, applied: [] }),
  initial: 'running',
  states: {
    running: {
      // The width comes from the input, so the spawns cannot be static invokes: ids are explicit and stable.
      entry: enqueueActions(({ context, enqueue }) => {
        for (let i = 0; i < context.width; i++) {
          enqueue.spawnChild('work', { id: `w${i}`, input: { key: workKey(context.root, `fan-${i}`), value: i } });
        }
      }),
      on: {
        'xstate.done.actor.*': {
          actions: assign(({ context, event }) => ({
            total: context.total + event.output.value,
            applied: [...context.applied, event.output.key],
          })),
        },
      },
      always: { guard: ({ context }) => context.applied.length >= context.width, target: 'done' },
    },
    done: { type: 'final' },
  },
  // Results arrive in any order; sorting makes the output predictable.
  output: ({ context }) => ({ count: context.applied.length, total: context.total, applied: [...context.applied].sort() }),
});
export const fanout = defineOrchestration('stress.fanout', fanoutMachine);

// ---------------------------------------------------------------- fan-out / fan-in as one actor (fanOut)

/** Gathers `width` work runs through `workAll` (a fanOut() of the work activity). */
const gatherMachineOf = (workAll: PromiseActorLogic<WorkOutput[], WorkInput[]>) => setup({
  types: {} as { input: FanoutInput; context: FanoutInput & { total: number; applied: string[] }; output: FanoutOutput },
  actors: { workAll },
}).createMachine({
  id: 'gather',
  context: ({ input }) => ({ ...input, total: 0, applied: [] }),
  initial: 'running',
  states: {
    running: {
      invoke: {
        id: 'all',
        src: 'workAll',
        input: ({ context }): WorkInput[] => Array.from({ length: context.width }, (_, i) => ({ key: workKey(context.root, `gather-${i}`), value: i })),
        // The outputs come in input order: no sorting needed.
        onDone: { target: 'done', actions: assign(({ event }) => ({ total: event.output.reduce((n, r) => n + r.value, 0), applied: event.output.map((r) => r.key) })) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ count: context.applied.length, total: context.total, applied: context.applied }),
});
export const gather = defineOrchestration('stress.gather', gatherMachineOf(fanOut(defineWorkActivity())));
/** The same, its elements queued 25 at a time (fanOut's batchSize). */
export const gatherBatches = defineOrchestration('stress.gather-batches', gatherMachineOf(fanOut(defineWorkActivity(), { batchSize: 25 })));

// ---------------------------------------------------------------- durable timer, then an activity

export type TimerInput = { root: string; delayMs: number };
export type TimerOutput = { slept: number; applied: string[] };

const timerMachine = setup({
  types: {} as { input: TimerInput; context: TimerInput & { applied: string[] }; output: TimerOutput },
  actors: { work },
  delays: { NAP: ({ context }) => context.delayMs },
}).createMachine({
  id: 'timer',
  context: ({ input }) => ({ ...input, applied: [] }),
  initial: 'sleeping',
  states: {
    sleeping: { after: { NAP: 'working' } },
    working: {
      invoke: {
        id: 'work',
        src: 'work',
        input: ({ context }): WorkInput => ({ key: workKey(context.root, 'timer'), value: context.delayMs }),
        onDone: { target: 'done', actions: assign(({ event }) => ({ applied: [event.output.key] })) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ slept: context.delayMs, applied: context.applied }),
});
export const timer = defineOrchestration('stress.timer', timerMachine);

// ---------------------------------------------------------------- external events (with a timeout timer that gets cancelled)

export type EventsInput = { root: string; expected: number; timeoutMs: number };
export type EventsOutput = { received: number[]; applied: string[]; timedOut: boolean };

const eventsMachine = setup({
  types: {} as {
    input: EventsInput;
    context: EventsInput & { received: number[]; applied: string[]; timedOut: boolean };
    events: { type: 'PING'; n: number };
    output: EventsOutput;
  },
  actors: { work },
  delays: { TIMEOUT: ({ context }) => context.timeoutMs },
}).createMachine({
  id: 'events',
  context: ({ input }) => ({ ...input, received: [], applied: [], timedOut: false }),
  initial: 'waiting',
  states: {
    waiting: {
      on: { PING: { actions: assign(({ context, event }) => ({ received: [...context.received, event.n] })) } },
      always: { guard: ({ context }) => context.received.length >= context.expected, target: 'working' },
      // Leaving 'waiting' cancels this timer: the cancellation path is exercised by every instance.
      after: { TIMEOUT: { target: 'done', actions: assign({ timedOut: true }) } },
    },
    working: {
      invoke: {
        id: 'work',
        src: 'work',
        input: ({ context }): WorkInput => ({ key: workKey(context.root, 'events'), value: context.received.length }),
        onDone: { target: 'done', actions: assign(({ event }) => ({ applied: [event.output.key] })) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ received: context.received, applied: context.applied, timedOut: context.timedOut }),
});
export const events = defineOrchestration('stress.events', eventsMachine);

// ---------------------------------------------------------------- parent with a child orchestration

export type ParentInput = { root: string; childSteps: number };
export type ParentOutput = { child: ChainOutput; applied: string[] };

const parentMachine = setup({
  types: {} as { input: ParentInput; context: ParentInput & { child: ChainOutput | null; applied: string[] }; output: ParentOutput },
  actors: { work, chain: orchestration(chain) },
}).createMachine({
  id: 'parent',
  context: ({ input }) => ({ ...input, child: null, applied: [] }),
  initial: 'child',
  states: {
    child: {
      invoke: {
        id: 'child',
        src: 'chain',
        input: ({ context }): ChainInput => ({ root: context.root, prefix: 'child', steps: context.childSteps }),
        onDone: { target: 'working', actions: assign(({ event }) => ({ child: event.output })) },
      },
    },
    working: {
      invoke: {
        id: 'work',
        src: 'work',
        input: ({ context }): WorkInput => ({ key: workKey(context.root, 'parent'), value: context.child?.total ?? 0 }),
        onDone: { target: 'done', actions: assign(({ event }) => ({ applied: [event.output.key] })) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ child: context.child ?? { total: 0, applied: [] }, applied: context.applied }),
});
export const parent = defineOrchestration('stress.parent', parentMachine);

// ---------------------------------------------------------------- continue-as-new generations

export type GenerationsInput = { root: string; generation: number; generations: number; total: number; applied: string[] };
export type GenerationsOutput = { generation: number; total: number; applied: string[] };

const generationsMachine = setup({
  types: {} as { input: GenerationsInput; context: GenerationsInput; output: GenerationsOutput },
  actors: { work },
}).createMachine({
  id: 'generations',
  context: ({ input }) => input,
  initial: 'working',
  states: {
    working: {
      invoke: {
        id: 'work',
        src: 'work',
        input: ({ context }): WorkInput => ({ key: workKey(context.root, `gen-${context.generation}`), value: context.generation }),
        onDone: [
          {
            guard: ({ context }) => context.generation + 1 < context.generations,
            target: 'continuing',
            // Mapped from context and event alone, so it does not depend on where assign sits in the list.
            actions: continueAsNew(({ context, event }) => {
              const output = (event as unknown as { output: WorkOutput }).output;
              return { ...context, generation: context.generation + 1, total: context.total + output.value, applied: [...context.applied, output.key] };
            }),
          },
          {
            target: 'done',
            actions: assign(({ context, event }) => ({ total: context.total + event.output.value, applied: [...context.applied, event.output.key] })),
          },
        ],
      },
    },
    // The engine ends the execution on continueAsNew; this state is never observed as final.
    continuing: {},
    done: { type: 'final' },
  },
  output: ({ context }) => ({ generation: context.generation, total: context.total, applied: context.applied }),
});
export const generations = defineOrchestration('stress.generations', generationsMachine);

export const STRESS_ORCHESTRATIONS = [chain, fanout, gather, gatherBatches, timer, events, parent, generations] as const;
