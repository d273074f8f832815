/** Locks end: by expiry on the provider clock, by abandon (its delay holds the whole instance back), by ack; renew extends a live lock only. */
import * as assert from 'uvu/assert';
import { LockLostError } from '../../providers/errors.js';
import {
  LOCK_MS, clockOf, createInstance, eventMessage, expectError, fetchNone, fetchOne, inCategory, sampleDelta, startMessage, workItem,
} from './helpers.js';

export const lockExpirationCases = inCategory('lock expiration', [
  {
    name: 'a lock is held until just before it expires',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await fetchOne(provider, 'a', 1000);
      clockOf(ctx).advance(999);
      await fetchNone(provider, 'the lock has 1 ms left');
    },
  },
  {
    name: 'an expired lock frees the instance for another fetcher',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const first = await fetchOne(provider, 'a', 1000);
      clockOf(ctx).advance(1000);
      const second = await fetchOne(provider, 'a');
      assert.is.not(second.lockToken, first.lockToken);
      assert.equal(second.messages.map((m) => m.id), first.messages.map((m) => m.id), 'the same messages are handed out again');
    },
  },
  {
    name: 'abandon frees the instance at once',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const first = await fetchOne(provider, 'a');
      await provider.abandonOrchestrationItem(first.lockToken);
      const second = await fetchOne(provider, 'a');
      assert.is.not(second.lockToken, first.lockToken);
    },
  },
  {
    name: 'abandon with a delay hides the whole instance until it passes',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const abandoned = await fetchOne(provider, 'a');
      await provider.abandonOrchestrationItem(abandoned.lockToken, { delayMs: 2000 });
      await expectError(provider.renewOrchestrationLock(abandoned.lockToken, 1000), LockLostError, 'renew with the abandoned token');
      await expectError(provider.ackOrchestrationItem(abandoned.lockToken, sampleDelta()), LockLostError, 'ack with the abandoned token');
      await expectError(provider.abandonOrchestrationItem(abandoned.lockToken), LockLostError, 'abandon with the abandoned token');
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'DURING'));
      await provider.enqueueOrchestratorMessage(startMessage('b'));
      const other = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 10 });
      assert.equal(other.map((i) => i.instanceId), ['b'], 'the new message does not bring the delayed instance back; others are unaffected');
      clock.advance(1999);
      await fetchNone(provider, 'the abandon delay has not passed');
      // Held back, not delayed: a's messages keep their visibleAt and count as visible (see QueueDepths).
      assert.equal((await provider.queueDepths()).orchestrator, { visible: 2, delayed: 0, locked: 1 });
      clock.advance(1);
      const item = await fetchOne(provider, 'a');
      assert.equal(item.messages.map((m) => [m.kind, m.attempt]), [['start', 2], ['event', 1]]);
    },
  },
  {
    name: 'renew extends the lock to now + lockMs',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a', 1000);
      clock.advance(500);
      const until = await provider.renewOrchestrationLock(item.lockToken, 5000);
      assert.is(until, clock.now() + 5000);
      clock.advance(4000);
      await fetchNone(provider, 'the renewed lock still holds');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta());
      assert.ok(await provider.getInstance('a'));
    },
  },
  {
    name: 'renew after expiry raises LockLostError even if nobody took the lock over',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a', 1000);
      clockOf(ctx).advance(1001);
      await expectError(provider.renewOrchestrationLock(item.lockToken, 5000), LockLostError);
      await fetchOne(provider, 'a');
    },
  },
  {
    name: 'ack after expiry raises LockLostError and consumes nothing',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a', 1000);
      clockOf(ctx).advance(1000);
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta()), LockLostError);
      assert.is(await provider.getInstance('a'), null);
      assert.equal((await fetchOne(provider, 'a')).messages.map((m) => m.kind), ['start']);
    },
  },
  {
    name: 'after a takeover the old token is rejected and the new one acks',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const old = await fetchOne(provider, 'a', 1000);
      clockOf(ctx).advance(2000);
      const current = await fetchOne(provider, 'a');
      await expectError(provider.ackOrchestrationItem(old.lockToken, sampleDelta({ instance: { name: 'stale' } })), LockLostError);
      await provider.ackOrchestrationItem(current.lockToken, sampleDelta({ instance: { name: 'fresh' } }));
      assert.is((await provider.getInstance('a'))?.name, 'fresh');
    },
  },
  {
    name: 'renew, ack and abandon after an ack raise LockLostError',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta());
      await expectError(provider.renewOrchestrationLock(item.lockToken, 1000), LockLostError, 'renew');
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta()), LockLostError, 'ack');
      await expectError(provider.abandonOrchestrationItem(item.lockToken), LockLostError, 'abandon');
    },
  },
  {
    name: 'an expired work item lock frees the item and rejects the old token',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      const [first] = await provider.fetchWorkItems({ lockMs: 1000 });
      assert.ok(first);
      clockOf(ctx).advance(1000);
      const [second] = await provider.fetchWorkItems({ lockMs: 1000 });
      assert.is(second?.activityId, 'act');
      assert.is(second?.attempt, 2);
      await expectError(provider.ackWorkItem(first.lockToken, { instanceId: 'a', kind: 'activityCompleted', payload: { activityId: 'act', output: 1 } }), LockLostError);
    },
  },
  {
    name: 'renewing a work item lock extends it; after expiry renew fails',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      const [item] = await provider.fetchWorkItems({ lockMs: 1000 });
      assert.ok(item);
      clock.advance(900);
      assert.is(await provider.renewWorkItemLock(item.lockToken, 1000), clock.now() + 1000);
      clock.advance(900);
      assert.equal(await provider.fetchWorkItems({ lockMs: 1000 }), [], 'the renewed lock still holds');
      clock.advance(100);
      await expectError(provider.renewWorkItemLock(item.lockToken, 1000), LockLostError);
    },
  },
]);
