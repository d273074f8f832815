/**
 * A benchmark machine that waits for events forever: each PING is one turn that only counts it
 * (context stays constant-size, so turn cost can only grow through history), STOP ends it.
 */
import { assign, setup } from 'xstate';
import { defineOrchestration } from '../../runtime/index.js';

const waiterMachine = setup({
  types: {} as { context: { pings: number }; events: { type: 'PING' } | { type: 'STOP' }; output: { pings: number } },
}).createMachine({
  id: 'waiter',
  context: { pings: 0 },
  initial: 'waiting',
  states: {
    waiting: { on: { PING: { actions: assign(({ context }) => ({ pings: context.pings + 1 })) }, STOP: 'done' } },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ pings: context.pings }),
});

export const waiter = defineOrchestration('bench.waiter', waiterMachine);
