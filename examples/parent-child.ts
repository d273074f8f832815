/**
 * Parent and child orchestrations: a loan application invokes a credit check, which is an
 * orchestration of its own (its own instance, history and retries), and decides on its output.
 *
 * Run alone: node --import tsx examples/parent-child.ts
 */
import { assign, setup } from 'xstate';
// Users write `from 'durastate'`.
import { activity, defineActivity, defineOrchestration, orchestration, type Client } from '../runtime/index.js';
import { printInstance } from './support/describe.js';
import { isMain, runExample } from './support/run-example.js';

/** Stands for a credit bureau: a score derived from the customer id, so results are reproducible. */
export const fetchCreditScore = defineActivity('loan.fetchCreditScore', async (input: { customerId: string }) => ({
  score: 500 + ([...input.customerId].reduce((sum, ch) => sum + ch.charCodeAt(0), 0) % 350),
}));

export const openLoanAccount = defineActivity('loan.openLoanAccount', async (input: { applicationId: string; amount: number }) => ({
  accountId: `loan-${input.applicationId}`,
}));

// ---- the child: a credit check

export type CreditCheckInput = { customerId: string; amount: number };
export type CreditCheckOutput = { score: number; approved: boolean };

const creditCheckMachine = setup({
  types: {} as { input: CreditCheckInput; context: CreditCheckInput & { score: number }; output: CreditCheckOutput },
  actors: { score: activity(fetchCreditScore) },
}).createMachine({
  id: 'credit-check',
  context: ({ input }) => ({ ...input, score: 0 }),
  initial: 'scoring',
  states: {
    scoring: {
      invoke: {
        id: 'score',
        src: 'score',
        input: ({ context }) => ({ customerId: context.customerId }),
        onDone: { target: 'done', actions: assign({ score: ({ event }) => event.output.score }) },
      },
    },
    done: { type: 'final' },
  },
  // Bigger loans need a better score.
  output: ({ context }) => ({ score: context.score, approved: context.score >= (context.amount > 10_000 ? 700 : 600) }),
});

export const creditCheck = defineOrchestration('credit-check', creditCheckMachine, { version: '1' });

// ---- the parent: a loan application

export type LoanInput = { applicationId: string; customerId: string; amount: number };
export type LoanOutput = { applicationId: string; decision: 'approved' | 'declined'; score: number; accountId: string | null };

type LoanContext = LoanInput & { score: number; accountId: string | null; decision: LoanOutput['decision'] | null };

const loanMachine = setup({
  types: {} as { input: LoanInput; context: LoanContext; output: LoanOutput },
  actors: { creditCheck: orchestration(creditCheck), openAccount: activity(openLoanAccount) },
}).createMachine({
  id: 'loan-application',
  context: ({ input }) => ({ ...input, score: 0, accountId: null, decision: null }),
  initial: 'checkingCredit',
  states: {
    checkingCredit: {
      invoke: {
        id: 'credit',
        src: 'creditCheck',
        input: ({ context }) => ({ customerId: context.customerId, amount: context.amount }),
        onDone: [
          { guard: ({ event }) => event.output.approved, target: 'openingAccount', actions: assign({ score: ({ event }) => event.output.score }) },
          { target: 'declined', actions: assign({ score: ({ event }) => event.output.score }) },
        ],
      },
    },
    openingAccount: {
      invoke: {
        id: 'open',
        src: 'openAccount',
        input: ({ context }) => ({ applicationId: context.applicationId, amount: context.amount }),
        onDone: { target: 'approved', actions: assign({ accountId: ({ event }) => event.output.accountId }) },
      },
    },
    approved: { type: 'final', entry: assign({ decision: 'approved' as const }) },
    declined: { type: 'final', entry: assign({ decision: 'declined' as const }) },
  },
  output: ({ context }) => ({ applicationId: context.applicationId, decision: context.decision!, score: context.score, accountId: context.accountId }),
});

export const loanApplication = defineOrchestration('loan-application', loanMachine, { version: '1' });

export const orchestrations = [loanApplication, creditCheck];
export const activities = [fetchCreditScore, openLoanAccount];

/** Apply for a loan and wait for the decision (the credit check runs as a child instance). */
export async function applyForLoan(client: Client, input: LoanInput, timeoutMs = 30_000) {
  const { instanceId } = await client.start(loanApplication, input, { instanceId: `loan-${input.applicationId}` });
  return client.waitForCompletion<typeof loanApplication>(instanceId, { timeoutMs });
}

if (isMain(import.meta.url)) {
  await runExample({ orchestrations, activities }, async (client) => {
    const final = await applyForLoan(client, { applicationId: Date.now().toString(36), customerId: 'c-42', amount: 5_000 });
    await printInstance(client, final);
    for (const child of (await client.list({ parentInstanceId: final.instanceId })).items) await printInstance(client, child);
  });
}
