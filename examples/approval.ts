/**
 * Approval with a deadline: ask an approver, then wait for APPROVE or REJECT, racing a durable timer.
 * Whichever comes first decides; the loser is cancelled (a late event is ignored, the timer deleted).
 * The deadline comes from the input, so it can be days in production and milliseconds in a test.
 *
 * Run alone: node --import tsx examples/approval.ts
 */
import { assign, setup } from 'xstate';
// Users write `from 'durastate'`.
import { activity, defineActivity, defineOrchestration, type Client } from '../runtime/index.js';
import { printInstance } from './support/describe.js';
import { isMain, runExample } from './support/run-example.js';

/** Stands for an e-mail or chat message to the approver. */
export const askApprover = defineActivity('approval.askApprover', async (input: { requestId: string; amount: number }) => ({
  notified: `approver of ${input.requestId}`,
}));

export type ApprovalInput = { requestId: string; amount: number; timeoutMs: number };
export type ApprovalEvent = { type: 'APPROVE'; by: string } | { type: 'REJECT'; by: string; reason?: string };
export type ApprovalOutput = { requestId: string; decision: 'approved' | 'rejected' | 'timed-out'; by: string | null };

type ApprovalContext = ApprovalInput & { decision: ApprovalOutput['decision'] | null; by: string | null };

const machine = setup({
  types: {} as { input: ApprovalInput; context: ApprovalContext; events: ApprovalEvent; output: ApprovalOutput },
  actors: { ask: activity(askApprover) },
  delays: { APPROVAL_TIMEOUT: ({ context }) => context.timeoutMs },
}).createMachine({
  id: 'approval',
  context: ({ input }) => ({ ...input, decision: null, by: null }),
  initial: 'open',
  states: {
    // The timer and the event handlers sit on the parent state, so a decision counts from the
    // start, even one raised while the approver is still being notified.
    open: {
      initial: 'asking',
      states: {
        asking: {
          invoke: {
            id: 'ask',
            src: 'ask',
            input: ({ context }) => ({ requestId: context.requestId, amount: context.amount }),
            onDone: 'waiting',
          },
        },
        waiting: {},
      },
      after: { APPROVAL_TIMEOUT: { target: 'decided', actions: assign({ decision: 'timed-out' as const }) } },
      on: {
        APPROVE: { target: 'decided', actions: assign({ decision: 'approved' as const, by: ({ event }) => event.by }) },
        REJECT: { target: 'decided', actions: assign({ decision: 'rejected' as const, by: ({ event }) => event.by }) },
      },
    },
    decided: { type: 'final' },
  },
  output: ({ context }) => ({ requestId: context.requestId, decision: context.decision!, by: context.by }),
});

export const approval = defineOrchestration('approval', machine, { version: '1' });

export const orchestrations = [approval];
export const activities = [askApprover];

/** Open a request; with `decision` the approver answers at once, without it the deadline decides. */
export async function requestApproval(client: Client, input: ApprovalInput, decision?: ApprovalEvent, timeoutMs = 30_000) {
  const { instanceId } = await client.start(approval, input, { instanceId: `approval-${input.requestId}` });
  // Events may be raised before the first turn runs: they wait for the instance in its queue.
  if (decision) await client.raiseEvent<typeof approval>(instanceId, decision);
  return client.waitForCompletion<typeof approval>(instanceId, { timeoutMs });
}

if (isMain(import.meta.url)) {
  await runExample({ orchestrations, activities }, async (client) => {
    const suffix = Date.now().toString(36);
    await printInstance(client, await requestApproval(client, { requestId: `r1-${suffix}`, amount: 500, timeoutMs: 60_000 }, { type: 'APPROVE', by: 'alice' }));
    console.log('\n(no answer within 300 ms: the timer wins)');
    await printInstance(client, await requestApproval(client, { requestId: `r2-${suffix}`, amount: 900, timeoutMs: 300 }));
  });
}
