/** Machines shared by the engine tests. */
import { assign, emit, setup, type PromiseActorLogic } from 'xstate';
import type { Json } from '../../providers/types.js';
import { activity, orchestration } from '../definitions/placeholders.js';
import { defineActivity } from '../definitions/activity-definition.js';
import { defineOrchestration } from '../definitions/orchestration-definition.js';
import { continueAsNew } from '../definitions/continue-as-new.js';
import { now, uuid } from '../definitions/deterministic.js';

export const charge = defineActivity('charge', async (input: { amount: number }) => ({ receiptId: `r-${input.amount}` }), { retry: { maxAttempts: 5 }, timeoutMs: 30_000 });

/** charge → wait for APPROVE (or a 1s timeout) → done with the receipt. */
export const orderMachine = setup({
  types: {} as {
    input: { amount: number };
    context: { amount: number; receiptId: string | null; approvedAt: number | null; token: string | null };
    events: { type: 'APPROVE' } | { type: 'REJECT' };
  },
  actors: { charge: activity(charge) },
  actions: { notifyShipping: () => {} },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({ amount: input.amount, receiptId: null, approvedAt: null, token: null }),
  initial: 'charging',
  states: {
    charging: {
      invoke: {
        id: 'charge1',
        src: 'charge',
        input: ({ context }) => ({ amount: context.amount }),
        onDone: { target: 'awaitingApproval', actions: assign({ receiptId: ({ event }) => event.output.receiptId }) },
        onError: 'failed',
      },
      on: { REJECT: 'rejected' },
    },
    awaitingApproval: {
      entry: emit({ type: 'charged' }),
      after: { 1000: 'timedOut' },
      on: {
        APPROVE: {
          target: 'approved',
          actions: [assign({ approvedAt: () => now(), token: () => uuid() }), { type: 'notifyShipping', params: { carrier: 'ups' } }],
        },
      },
    },
    approved: { type: 'final' },
    rejected: { type: 'final' },
    timedOut: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => ({ receiptId: context.receiptId, approvedAt: context.approvedAt, token: context.token }),
});

export const order = defineOrchestration('order', orderMachine);

/** A parent that runs 'order' as a child and finishes with its output. */
export const parentMachine = setup({
  types: {} as { context: { result: unknown } },
  actors: { order: orchestration(order) },
}).createMachine({
  id: 'parent',
  context: { result: null },
  initial: 'running',
  states: {
    running: {
      invoke: { id: 'child', src: 'order', input: { amount: 7 }, onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) }, onError: 'failed' },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => context.result as never,
});

export const parent = defineOrchestration('parent', parentMachine);

/** Counts NEXT events and continues as new every 2 events, carrying the total; a long timer is always armed. */
export const counterMachine = setup({
  types: {} as { input: { total: number }; context: { total: number; seen: number }; events: { type: 'NEXT' } },
}).createMachine({
  id: 'counter',
  context: ({ input }) => ({ total: input.total, seen: 0 }),
  initial: 'counting',
  states: {
    counting: {
      after: { 60_000: { target: 'counting', reenter: true } },
      on: {
        NEXT: [
          { guard: ({ context }) => context.seen >= 1, actions: continueAsNew(({ context }) => ({ total: context.total + 1 })) },
          { actions: assign({ total: ({ context }) => context.total + 1, seen: ({ context }) => context.seen + 1 }) },
        ],
      },
    },
  },
});

export const counter = defineOrchestration('counter', counterMachine);

/**
 * Invokes a fan-out (fanOut()) over its input and ends with the outputs or the error; CANCEL leaves
 * the invoking state. `ids` holds a uuid() drawn at the start and one drawn when the fan-out is done.
 */
export function gatherMachine<O extends Json>(logic: PromiseActorLogic<O[], number[]>) {
  return setup({
    types: {} as {
      input: number[];
      context: { input: number[]; outputs: Json; error: Json; ids: string[] };
      events: { type: 'CANCEL' };
      output: { outputs: Json; error: Json };
    },
    actors: { all: logic },
  }).createMachine({
    context: ({ input }) => ({ input, outputs: null, error: null, ids: [uuid()] }),
    initial: 'fanning',
    states: {
      fanning: {
        invoke: {
          id: 'all',
          src: 'all',
          input: ({ context }) => context.input,
          onDone: { target: 'done', actions: assign({ outputs: ({ event }) => event.output as Json, ids: ({ context }) => [...context.ids, uuid()] }) },
          onError: { target: 'failed', actions: assign({ error: ({ event }) => event.error as Json }) },
        },
        on: { CANCEL: 'cancelled' },
      },
      done: { type: 'final' },
      failed: { type: 'final' },
      cancelled: { type: 'final' },
    },
    output: ({ context }) => ({ outputs: context.outputs, error: context.error }),
  });
}
