/**
 * Order saga: charge the card, reserve the stock, ship. When a step fails for good, the steps
 * already done are compensated in reverse order (release the stock, refund the card), so the
 * order ends either shipped or fully undone, never half done.
 *
 * Failures come from the input, so the story is deterministic: an amount above 1000 is declined,
 * a quantity above the stock cannot be reserved, an empty address cannot be shipped to.
 *
 * Run alone: node --import tsx examples/order-saga.ts
 */
import { assign, setup } from 'xstate';
// Users write `from 'durastate'`.
import { activity, defineActivity, defineOrchestration, type Client } from '../runtime/index.js';
import { printInstance } from './support/describe.js';
import { isMain, runExample } from './support/run-example.js';

const STOCK = 10;
// Failing steps are retried once, quickly: the failures here are permanent, retrying longer would only slow the story.
const ONE_RETRY = { retry: { maxAttempts: 2, initialMs: 20 } };

export const chargeCard = defineActivity('order.chargeCard', async (input: { orderId: string; amount: number }) => {
  if (input.amount > 1000) throw new Error(`card declined for ${input.amount}`);
  return { receiptId: `receipt-${input.orderId}` };
}, ONE_RETRY);

export const reserveStock = defineActivity('order.reserveStock', async (input: { orderId: string; quantity: number }) => {
  if (input.quantity > STOCK) throw new Error(`only ${STOCK} in stock, ${input.quantity} wanted`);
  return { reservationId: `reservation-${input.orderId}` };
}, ONE_RETRY);

export const shipOrder = defineActivity('order.shipOrder', async (input: { orderId: string; address: string }) => {
  if (input.address.trim() === '') throw new Error('cannot ship without an address');
  return { trackingId: `track-${input.orderId}` };
}, ONE_RETRY);

// Compensations must succeed eventually: they keep the default retries.
export const refundCard = defineActivity('order.refundCard', async (input: { receiptId: string }) => ({ refunded: input.receiptId }));
export const releaseStock = defineActivity('order.releaseStock', async (input: { reservationId: string }) => ({ released: input.reservationId }));

export type OrderInput = { orderId: string; amount: number; quantity: number; address: string };
export type OrderOutput = {
  orderId: string;
  outcome: 'shipped' | 'compensated' | 'declined';
  trackingId: string | null;
  /** Compensations run, in order. */
  compensations: string[];
  error: string | null;
};

type OrderContext = OrderInput & {
  outcome: OrderOutput['outcome'] | null;
  receiptId: string | null;
  reservationId: string | null;
  trackingId: string | null;
  compensations: string[];
  error: string | null;
};

const messageOf = (error: unknown) => (error as { message?: string } | null)?.message ?? String(error);

const machine = setup({
  types: {} as { input: OrderInput; context: OrderContext; output: OrderOutput },
  actors: {
    charge: activity(chargeCard),
    reserve: activity(reserveStock),
    ship: activity(shipOrder),
    refund: activity(refundCard),
    release: activity(releaseStock),
  },
}).createMachine({
  id: 'order-saga',
  context: ({ input }) => ({ ...input, outcome: null, receiptId: null, reservationId: null, trackingId: null, compensations: [], error: null }),
  initial: 'charging',
  states: {
    charging: {
      invoke: {
        id: 'charge',
        src: 'charge',
        input: ({ context }) => ({ orderId: context.orderId, amount: context.amount }),
        onDone: { target: 'reserving', actions: assign({ receiptId: ({ event }) => event.output.receiptId }) },
        // Nothing was done yet: nothing to compensate.
        onError: { target: 'declined', actions: assign({ error: ({ event }) => messageOf(event.error) }) },
      },
    },
    reserving: {
      invoke: {
        id: 'reserve',
        src: 'reserve',
        input: ({ context }) => ({ orderId: context.orderId, quantity: context.quantity }),
        onDone: { target: 'shipping', actions: assign({ reservationId: ({ event }) => event.output.reservationId }) },
        onError: { target: 'refunding', actions: assign({ error: ({ event }) => messageOf(event.error) }) },
      },
    },
    shipping: {
      invoke: {
        id: 'ship',
        src: 'ship',
        input: ({ context }) => ({ orderId: context.orderId, address: context.address }),
        onDone: { target: 'shipped', actions: assign({ trackingId: ({ event }) => event.output.trackingId }) },
        onError: { target: 'releasing', actions: assign({ error: ({ event }) => messageOf(event.error) }) },
      },
    },
    // Compensations, in reverse order of the steps they undo.
    releasing: {
      invoke: {
        id: 'release',
        src: 'release',
        input: ({ context }) => ({ reservationId: context.reservationId! }),
        onDone: { target: 'refunding', actions: assign({ compensations: ({ context }) => [...context.compensations, 'releaseStock'] }) },
      },
    },
    refunding: {
      invoke: {
        id: 'refund',
        src: 'refund',
        input: ({ context }) => ({ receiptId: context.receiptId! }),
        onDone: { target: 'compensated', actions: assign({ compensations: ({ context }) => [...context.compensations, 'refundCard'] }) },
      },
    },
    shipped: { type: 'final', entry: assign({ outcome: 'shipped' as const }) },
    compensated: { type: 'final', entry: assign({ outcome: 'compensated' as const }) },
    declined: { type: 'final', entry: assign({ outcome: 'declined' as const }) },
  },
  output: ({ context }) => ({
    orderId: context.orderId,
    outcome: context.outcome!,
    trackingId: context.trackingId,
    compensations: context.compensations,
    error: context.error,
  }),
});

export const orderSaga = defineOrchestration('order-saga', machine, { version: '1' });

export const orchestrations = [orderSaga];
export const activities = [chargeCard, reserveStock, shipOrder, refundCard, releaseStock];

/** Place one order and wait for its saga to end. */
export async function placeOrder(client: Client, input: OrderInput, timeoutMs = 30_000) {
  const { instanceId } = await client.start(orderSaga, input, { instanceId: `order-${input.orderId}` });
  return client.waitForCompletion<typeof orderSaga>(instanceId, { timeoutMs });
}

if (isMain(import.meta.url)) {
  await runExample({ orchestrations, activities }, async (client) => {
    const suffix = Date.now().toString(36); // instance ids are unique per database: a new order each run
    await printInstance(client, await placeOrder(client, { orderId: `ok-${suffix}`, amount: 120, quantity: 2, address: '1 Main St' }));
    await printInstance(client, await placeOrder(client, { orderId: `noaddr-${suffix}`, amount: 80, quantity: 1, address: '' }));
  });
}
