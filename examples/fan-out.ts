/**
 * Fan-out/fan-in: quote every item of a basket in parallel (one activity run per item), then combine
 * the quotes. `fanOut(quotePrice)` is one invoked actor: given the array of inputs it runs the
 * activity once per element on the workers (each with its own retries) and finishes with the outputs
 * in input order, like Promise.all, whatever order the workers finish in. For thousands of short
 * calls like these, `fanOutActivity(quotePrice, { batchSize: 50 })` hands them to the workers 50 to
 * a work item (one lock and one ack per batch; see fanOut in the README).
 *
 * Run alone: node --import tsx examples/fan-out.ts
 */
import { assign, setup } from 'xstate';
// Users write `from 'durastate'`.
import { defineActivity, defineOrchestration, fanOut as fanOutActivity, type Client } from '../runtime/index.js';
import { printInstance } from './support/describe.js';
import { isMain, runExample } from './support/run-example.js';

export type Quote = { sku: string; cents: number };

/** Stands for a pricing service's answer: derived from the SKU, so results are reproducible. */
export function priceCents(sku: string): number {
  return [...sku].reduce((sum, ch) => (sum * 31 + ch.charCodeAt(0)) % 10_000, 7) + 100;
}

export const quotePrice = defineActivity('fanout.quotePrice', async (input: { sku: string }): Promise<Quote> => ({ sku: input.sku, cents: priceCents(input.sku) }));

export type BasketInput = { skus: string[] };
export type BasketOutput = { quotes: Quote[]; totalCents: number };

const machine = setup({
  types: {} as { input: BasketInput; context: { skus: string[]; quotes: Quote[] }; output: BasketOutput },
  actors: { quoteAll: fanOutActivity(quotePrice) },
}).createMachine({
  id: 'fan-out',
  context: ({ input }) => ({ skus: input.skus, quotes: [] }),
  initial: 'quoting',
  states: {
    quoting: {
      // Fan out: one activity run per item, all scheduled in the same turn; fan in: one done event.
      invoke: {
        id: 'quotes',
        src: 'quoteAll',
        input: ({ context }) => context.skus.map((sku) => ({ sku })),
        onDone: { target: 'done', actions: assign({ quotes: ({ event }) => event.output }) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ quotes: context.quotes, totalCents: context.quotes.reduce((sum, q) => sum + q.cents, 0) }),
});

export const fanOut = defineOrchestration('fan-out', machine, { version: '1' });

export const orchestrations = [fanOut];
export const activities = [quotePrice];

/** Quote a basket and wait for the combined result. */
export async function quoteBasket(client: Client, input: BasketInput, timeoutMs = 30_000) {
  const { instanceId } = await client.start(fanOut, input);
  return client.waitForCompletion<typeof fanOut>(instanceId, { timeoutMs });
}

if (isMain(import.meta.url)) {
  await runExample({ orchestrations, activities }, async (client) => {
    await printInstance(client, await quoteBasket(client, { skus: ['apple', 'bread', 'cheese', 'dates', 'eggs'] }));
  });
}
