/** Without LISTEN/NOTIFY (a pooler in transaction mode), long-polls must still find work by polling. */
import * as assert from 'uvu/assert';
import { eventMessage, sleep } from '../conformance/helpers.js';
import type { ValidationCase } from '../case.js';

/** Longer than any sane poll interval: the fetch must end with the work well before it. */
const WAIT_MS = 10_000;

export const notificationsOffCases: Array<Omit<ValidationCase, 'category'>> = [
  {
    name: 'with notifications disabled, a long-poll still finds work that arrives while it waits',
    needsFaults: true,
    async run({ put }) {
      const { provider } = put;
      put.faults!.disableNotifications();
      const polling = provider.fetchOrchestrationItems({ lockMs: 60_000, waitMs: WAIT_MS, owner: 'poller' });
      await sleep(100); // let the fetch find the queue empty and start waiting
      await provider.enqueueOrchestratorMessage(eventMessage('quiet'));
      const items = await polling;
      assert.equal(items.map((i) => i.instanceId), ['quiet'], 'the waiting fetch picked up the new message');
    },
  },
];
