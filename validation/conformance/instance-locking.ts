/** The instance lock: exclusive, fenced by a unique token, and exactly the messages it handed out. */
import * as assert from 'uvu/assert';
import { LockLostError } from '../../providers/errors.js';
import {
  LOCK_MS, createInstance, eventMessage, expectError, fetchNone, fetchOne, inCategory, kinds, sampleDelta, startMessage,
} from './helpers.js';

export const instanceLockingCases = inCategory('instance locking', [
  {
    name: 'a locked instance is not handed out again',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await fetchOne(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      await fetchNone(provider, 'the instance is locked');
    },
  },
  {
    name: 'every fetch returns a distinct lock token',
    async run({ put: { provider } }) {
      for (const id of ['a', 'b', 'c']) await provider.enqueueOrchestratorMessage(startMessage(id));
      const items = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 2 });
      await provider.abandonOrchestrationItem(items[0]!.lockToken);
      const again = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 2 });
      const tokens = [...items, ...again].map((i) => i.lockToken);
      assert.is(tokens.length, 4);
      assert.is(new Set(tokens).size, 4, 'tokens are unique, even for a re-fetched instance');
    },
  },
  {
    name: 'an ack with a token never issued raises LockLostError',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await fetchOne(provider, 'a');
      await expectError(provider.ackOrchestrationItem('not-a-token', sampleDelta()), LockLostError);
      assert.is(await provider.getInstance('a'), null);
    },
  },
  {
    name: 'abandon and renew with a token never issued raise LockLostError',
    async run({ put: { provider } }) {
      await expectError(provider.abandonOrchestrationItem('not-a-token'), LockLostError, 'abandon');
      await expectError(provider.renewOrchestrationLock('not-a-token', LOCK_MS), LockLostError, 'renew');
    },
  },
  {
    name: 'concurrent fetchers never receive the same instance',
    async run({ put: { provider } }) {
      const ids = Array.from({ length: 12 }, (_, i) => `i${i}`);
      for (const id of ids) await provider.enqueueOrchestratorMessage(startMessage(id));
      const batches = await Promise.all(Array.from({ length: 6 }, () => provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 3 })));
      const got = batches.flat().map((i) => i.instanceId);
      assert.is(new Set(got).size, got.length, `an instance was handed out twice: ${got.join(',')}`);
      assert.equal([...got].sort(), [...ids].sort(), 'every instance was handed out once');
    },
  },
  {
    name: 'a fetch of several instances returns each once with all its visible messages',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.enqueueOrchestratorMessage(startMessage('b'));
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'ONE'));
      await provider.enqueueOrchestratorMessage(eventMessage('b', 'TWO'));
      const items = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 5 });
      assert.equal(items.map((i) => [i.instanceId, kinds(i)]), [['a', ['start', 'event']], ['b', ['start', 'event']]]);
    },
  },
  {
    name: 'a message arriving during the lock is not part of the item and survives its ack',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'LATE'));
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta());
      const next = await fetchOne(provider, 'a');
      assert.equal(next.messages.map((m) => m.payload), [{ type: 'LATE' }]);
    },
  },
  {
    name: 'an ack deletes exactly the messages its fetch locked',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'ONE'));
      const item = await fetchOne(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'TWO'));
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta());
      const depths = await provider.queueDepths();
      assert.equal(depths.orchestrator, { visible: 1, delayed: 0, locked: 0 }, 'only the late message is left');
    },
  },
  {
    name: 'the ack releases the lock at once',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      assert.ok(item.instance, 'the fetched item carries the stored instance');
    },
  },
  {
    name: 'a suspended instance hands out only control messages',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { instance: { status: 'suspended' } });
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'WAITS'));
      await provider.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'resume', payload: {} });
      await provider.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'terminate', payload: {} });
      const item = await fetchOne(provider, 'a');
      assert.equal(kinds(item), ['resume', 'terminate']);
    },
  },
  {
    name: 'a suspended instance with only non-control messages is not fetched',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { instance: { status: 'suspended' } });
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      await provider.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'suspend', payload: {} });
      await fetchNone(provider, 'events and suspends wait while suspended');
    },
  },
]);
