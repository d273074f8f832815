/**
 * The connection carrying an ack drops after the request went out: the caller cannot know whether
 * it committed. The contract's promise: it committed entirely or not at all, the error says it is
 * retryable, and renewing the lock tells which (a committed ack released it).
 */
import * as assert from 'uvu/assert';
import { LockLostError, RetryableProviderError } from '../../providers/errors.js';
import { eventMessage, fetchNone, fetchOne, historyEvents, sampleDelta } from '../conformance/helpers.js';
import type { ValidationCase } from '../case.js';

const LOCK_MS = 60_000;

export const droppedAckCases: Array<Omit<ValidationCase, 'category'>> = [
  {
    name: 'an ack whose connection drops either happened entirely or not at all, and renew tells which',
    needsFaults: true,
    async run({ put }) {
      const { provider } = put;
      await provider.enqueueOrchestratorMessage(eventMessage('drop-a'));
      const item = await fetchOne(provider, 'drop-a', LOCK_MS);
      const delta = sampleDelta({ history: historyEvents(1, 0, 1), messages: [eventMessage('drop-b')] });
      put.faults!.dropConnectionDuringNextAck();

      let committed: boolean;
      try {
        await provider.ackOrchestrationItem(item.lockToken, delta);
        committed = true; // a provider may retry internally and know it committed
      } catch (error) {
        assert.instance(error, RetryableProviderError, `a dropped ack must be retryable, got ${String(error)}`);
        try {
          await provider.renewOrchestrationLock(item.lockToken, LOCK_MS);
          committed = false;
        } catch (renewError) {
          assert.instance(renewError, LockLostError, `renew after the drop: ${String(renewError)}`);
          committed = true;
        }
      }

      if (!committed) {
        assert.is(await provider.getInstance('drop-a'), null, 'an ack that did not happen created nothing');
        await fetchNone(provider, 'drop-a is still locked by us and drop-b got nothing');
        await provider.ackOrchestrationItem(item.lockToken, delta); // the caller retries, on a new connection
      }
      const instance = await provider.getInstance('drop-a');
      assert.is(instance?.historyLength, 1, 'the ack applied its history exactly once');
      const next = await fetchOne(provider, 'drop-b');
      assert.equal(next.messages.map((m) => m.payload), [{ type: 'PING' }], 'the ack enqueued its message exactly once');
      await provider.ackOrchestrationItem(next.lockToken, sampleDelta());
      await fetchNone(provider, 'drop-a was consumed exactly once');
    },
  },
];
