/** Cancelled activities and timers: gone from their queues, and a running activity's lock is lost. */
import * as assert from 'uvu/assert';
import { LockLostError } from '../../providers/errors.js';
import type { Provider, TimerInput } from '../../providers/contract.js';
import {
  LOCK_MS, clockOf, createInstance, eventMessage, expectError, fetchNone, fetchOne, inCategory, sampleDelta, workItem,
} from './helpers.js';

const timer = (timerId: string, fireAt: number): TimerInput => ({ timerId, fireAt, executionId: 1, payload: { timerId, event: { type: timerId } } });

/** Run a turn of 'a' (triggered by an event) that cancels what it is told to. */
async function cancelTurn(provider: Provider, parts: Parameters<typeof sampleDelta>[0]): Promise<void> {
  await provider.enqueueOrchestratorMessage(eventMessage('a', 'CANCEL'));
  const item = await fetchOne(provider, 'a');
  await provider.ackOrchestrationItem(item.lockToken, sampleDelta(parts));
}

export const cancellationCases = inCategory('cancellation', [
  {
    name: 'a cancelled activity leaves the worker queue',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'keep'), workItem('a', 'drop')] });
      await cancelTurn(provider, { cancelActivities: ['drop'] });
      const items = await provider.fetchWorkItems({ lockMs: LOCK_MS, max: 10 });
      assert.equal(items.map((w) => w.activityId), ['keep']);
    },
  },
  {
    name: 'renewing a cancelled running activity raises LockLostError',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      const [running] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(running);
      await cancelTurn(provider, { cancelActivities: ['act'] });
      await expectError(provider.renewWorkItemLock(running.lockToken, LOCK_MS), LockLostError);
    },
  },
  {
    name: 'acking a cancelled running activity raises LockLostError and enqueues nothing',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      const [running] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(running);
      await cancelTurn(provider, { cancelActivities: ['act'] });
      const result = { instanceId: 'a', kind: 'activityCompleted' as const, payload: { activityId: 'act', output: 1 } };
      await expectError(provider.ackWorkItem(running.lockToken, result), LockLostError);
      await fetchNone(provider, 'no result was enqueued');
      assert.equal((await provider.queueDepths()).worker, { visible: 0, delayed: 0, locked: 0 });
    },
  },
  {
    name: 'a cancelled timer never fires',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await createInstance(provider, 'a', { timers: [timer('t', clock.now() + 1000)] });
      await cancelTurn(provider, { cancelTimers: ['t'] });
      clock.advance(10_000);
      await fetchNone(provider, 'the cancelled timer must not fire');
    },
  },
  {
    name: 'a timer cancelled and re-created in one ack fires at the new time only',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await createInstance(provider, 'a', { timers: [timer('t', clock.now() + 1000)] });
      await cancelTurn(provider, { cancelTimers: ['t'], timers: [timer('t', clock.now() + 5000)] });
      clock.advance(4999);
      await fetchNone(provider, 'the old timer was cancelled and the new one is not due');
      clock.advance(1);
      assert.equal((await fetchOne(provider, 'a')).messages.map((m) => [m.kind, m.timerId]), [['timerFired', 't']]);
    },
  },
  {
    name: 'cancelling unknown timer and activity ids is ignored',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      await cancelTurn(provider, { cancelTimers: ['nope'], cancelActivities: ['nothing'] });
      assert.is((await provider.getInstance('a'))?.turns, 2);
      assert.is((await provider.fetchWorkItems({ lockMs: LOCK_MS })).length, 1);
    },
  },
  {
    name: 'cancellation touches only the acking instance',
    async run({ put: { provider } }) {
      const now = await provider.now();
      await createInstance(provider, 'b', { workItems: [workItem('b', 'act')], timers: [timer('t', now + 3_600_000)] });
      await createInstance(provider, 'a');
      await cancelTurn(provider, { cancelActivities: ['act'], cancelTimers: ['t'] });
      const depths = await provider.queueDepths();
      assert.equal([depths.worker.visible, depths.orchestrator.delayed], [1, 1], "b's activity and timer are still queued");
    },
  },
]);
