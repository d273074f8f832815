/**
 * An eternal monitor: each execution checks a target once, waits a durable timer, then continues
 * as new, so the history never grows however long it runs (each execution starts a fresh one).
 * What must survive from one execution to the next travels in the new input. A real monitor runs
 * forever; this one stops after `maxChecks` so the demo and the test end.
 *
 * Run alone: node --import tsx examples/monitor.ts
 */
import { assign, setup } from 'xstate';
// Users write `from 'durastate'`.
import { activity, continueAsNew, defineActivity, defineOrchestration, type Client } from '../runtime/index.js';
import { printInstance } from './support/describe.js';
import { isMain, runExample } from './support/run-example.js';

/** Stands for a health probe: every third check of a target fails, so the output has something to count. */
export const checkHealth = defineActivity('monitor.checkHealth', async (input: { target: string; check: number }) => ({
  healthy: input.check % 3 !== 2,
}));

export type MonitorInput = {
  target: string;
  intervalMs: number;
  maxChecks: number;
  /** Carried over between executions: checks done so far and how many were healthy. */
  checksDone: number;
  healthyChecks: number;
};
export type MonitorOutput = { target: string; checks: number; healthyChecks: number };

const machine = setup({
  types: {} as { input: MonitorInput; context: MonitorInput; output: MonitorOutput },
  actors: { check: activity(checkHealth) },
  delays: { CHECK_INTERVAL: ({ context }) => context.intervalMs },
  guards: { lastCheck: ({ context }) => context.checksDone >= context.maxChecks },
}).createMachine({
  id: 'monitor',
  context: ({ input }) => input,
  initial: 'checking',
  states: {
    checking: {
      invoke: {
        id: 'check',
        src: 'check',
        input: ({ context }) => ({ target: context.target, check: context.checksDone }),
        onDone: {
          target: 'deciding',
          actions: assign(({ context, event }) => ({
            checksDone: context.checksDone + 1,
            healthyChecks: context.healthyChecks + (event.output.healthy ? 1 : 0),
          })),
        },
      },
    },
    deciding: { always: [{ guard: 'lastCheck', target: 'stopped' }, { target: 'sleeping' }] },
    sleeping: {
      after: { CHECK_INTERVAL: { actions: continueAsNew(({ context }) => context) } },
    },
    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ target: context.target, checks: context.checksDone, healthyChecks: context.healthyChecks }),
});

export const monitor = defineOrchestration('monitor', machine, { version: '1' });

export const orchestrations = [monitor];
export const activities = [checkHealth];

/** Monitor `target` for `maxChecks` checks, `intervalMs` apart, and wait for the last one. */
export async function runMonitor(client: Client, target: string, opts: { maxChecks: number; intervalMs: number }, timeoutMs = 30_000) {
  const input = { target, ...opts, checksDone: 0, healthyChecks: 0 };
  const { instanceId } = await client.start(monitor, input);
  return client.waitForCompletion<typeof monitor>(instanceId, { timeoutMs });
}

if (isMain(import.meta.url)) {
  await runExample({ orchestrations, activities }, async (client) => {
    const final = await runMonitor(client, 'https://example.com/health', { maxChecks: 4, intervalMs: 200 });
    console.log(`\n${final.executionId} executions; the last one's history:`);
    await printInstance(client, final);
  });
}
