/** Every query is slowed down (a loaded or distant server): results stay right, deadlines hold. */
import * as assert from 'uvu/assert';
import { LockLostError } from '../../providers/errors.js';
import { eventMessage, expectError, fetchNone, fetchOne, sampleDelta } from '../conformance/helpers.js';
import type { ValidationCase } from '../case.js';

const QUERY_DELAY_MS = 50;
const WAIT_MS = 300;
/** Generous: a long-poll may overrun its deadline by a query or two, not by seconds. */
const SLACK_MS = 3_000;

export const slowQueryCases: Array<Omit<ValidationCase, 'category'>> = [
  {
    name: 'with slow queries, fetch, ack, abandon and renew stay correct',
    needsFaults: true,
    async run({ put }) {
      const { provider } = put;
      put.faults!.setQueryDelay(QUERY_DELAY_MS);
      await provider.enqueueOrchestratorMessage(eventMessage('slow-a'));
      const first = await fetchOne(provider, 'slow-a');
      await provider.renewOrchestrationLock(first.lockToken, 60_000);
      await provider.abandonOrchestrationItem(first.lockToken);
      await expectError(provider.renewOrchestrationLock(first.lockToken, 60_000), LockLostError, 'renew after abandon');
      const second = await fetchOne(provider, 'slow-a');
      assert.is(second.attempt, 2, 'the abandoned fetch counted as an attempt');
      await provider.ackOrchestrationItem(second.lockToken, sampleDelta());
      await fetchNone(provider, 'the message was consumed');
      assert.ok(await provider.getInstance('slow-a'), 'the ack created the instance');
    },
  },
  {
    name: 'with slow queries, an empty long-poll still ends near its deadline',
    needsFaults: true,
    async run({ put }) {
      const { provider } = put;
      put.faults!.setQueryDelay(QUERY_DELAY_MS);
      const started = Date.now();
      const items = await provider.fetchOrchestrationItems({ lockMs: 60_000, waitMs: WAIT_MS });
      const elapsed = Date.now() - started;
      assert.equal(items, [], 'nothing was queued');
      assert.ok(elapsed <= WAIT_MS + SLACK_MS, `a ${WAIT_MS} ms long-poll took ${elapsed} ms`);
    },
  },
];
