/**
 * The README's complete small example, as a file: `node --import tsx examples/quickstart.ts`
 * (needs DATABASE_URL; the other examples also run on the embedded default).
 */
import { assign, setup } from 'xstate';
import {
  activity, createClient, createRuntime, defineActivity, defineOrchestration, openPostgresProvider,
} from '../runtime/index.js'; // users write: from 'durastate'

// An activity: any async function. It runs at least once, on a worker, with retries.
const charge = defineActivity('charge', async (input: { amount: number }, ctx) => {
  ctx.logger.info({ amount: input.amount }, 'charging');          // ctx: instanceId, activityId, attempt, signal, heartbeat()
  return { receiptId: `r-${ctx.instanceId}` };
}, { retry: { maxAttempts: 5, initialMs: 1_000, backoff: 2, maxMs: 60_000 }, timeoutMs: 30_000 });

// An orchestration: an XState machine. Invokes need a string src and an explicit id.
const order = defineOrchestration('order', setup({
  types: {} as {
    input: { amount: number };
    context: { amount: number; receiptId: string | null };
    events: { type: 'CANCEL' };
    output: { receiptId: string | null };
  },
  actors: { charge: activity(charge) },
  delays: { PAY_WITHIN: 24 * 3600_000 },                          // durable timer: may be days long
}).createMachine({
  context: ({ input }) => ({ amount: input.amount, receiptId: null }),
  initial: 'charging',
  states: {
    charging: {
      invoke: {
        id: 'charge', src: 'charge',
        input: ({ context }) => ({ amount: context.amount }),
        onDone: { target: 'paid', actions: assign({ receiptId: ({ event }) => event.output.receiptId }) },
        onError: 'failed',
      },
      after: { PAY_WITHIN: 'failed' },
      on: { CANCEL: 'cancelled' },                                // leaving the state cancels the activity
    },
    paid: { type: 'final' },
    cancelled: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => ({ receiptId: context.receiptId }),
}), { version: '1' });

const provider = await openPostgresProvider({ connectionString: process.env.DATABASE_URL, schema: process.env.DURASTATE_SCHEMA ?? 'durastate' });
const runtime = createRuntime({ provider, orchestrations: [order], activities: [charge] });
await runtime.start();                                            // run as many of these processes as you like

const client = createClient({ provider, orchestrations: [order] });
const { instanceId } = await client.start(order, { amount: 42 }); // typed input
const done = await client.waitForCompletion<typeof order>(instanceId, { timeoutMs: 10_000 });
console.log(done.status, done.output);                            // 'completed' { receiptId: 'r-…' }

await runtime.shutdown({ graceMs: 5_000 });
await provider.close();
