/**
 * Fan-out/fan-in: quote every item of a basket in parallel (one activity per item), then combine
 * the quotes. Each activity is spawned under an explicit id (`quote-<index>`), so its result is
 * routed back by id and the combined output is in input order whatever order the workers finish in.
 *
 * Run alone: node --import tsx examples/fan-out.ts
 */
import { assign, setup, type DoneActorEvent } from 'xstate';
// Users write `from 'durastate'`.
import { activity, defineActivity, defineOrchestration, type Client } from '../runtime/index.js';
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

type BasketContext = { skus: string[]; quotes: Record<string, Quote> };

const quoteId = (index: number) => `quote-${index}`;

const machine = setup({
  types: {} as { input: BasketInput; context: BasketContext; output: BasketOutput },
  actors: { quote: activity(quotePrice) },
  guards: { allQuoted: ({ context }) => Object.keys(context.quotes).length === context.skus.length },
}).createMachine({
  id: 'fan-out',
  context: ({ input }) => ({ skus: input.skus, quotes: {} }),
  initial: 'quoting',
  states: {
    quoting: {
      // Fan out: one activity per item, all scheduled in the same turn.
      entry: assign(({ context, spawn }) => {
        context.skus.forEach((sku, index) => spawn('quote', { id: quoteId(index), input: { sku } }));
        return {};
      }),
      on: {
        // Fan in: each result is stored under the id it was spawned with.
        'xstate.done.actor.*': {
          actions: assign({
            quotes: ({ context, event }) => {
              const done = event as unknown as DoneActorEvent<Quote>;
              return { ...context.quotes, [done.actorId]: done.output };
            },
          }),
        },
      },
      always: { guard: 'allQuoted', target: 'done' },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => {
    const quotes = context.skus.map((_, index) => context.quotes[quoteId(index)]!);
    return { quotes, totalCents: quotes.reduce((sum, q) => sum + q.cents, 0) };
  },
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
