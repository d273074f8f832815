/** An ack commits every part of its delta or none of it. */
import * as assert from 'uvu/assert';
import { InvalidArgumentError, LockLostError } from '../../providers/errors.js';
import type { OrchestrationDelta } from '../../providers/contract.js';
import {
  clockOf, collect, createInstance, eventMessage, expectError, fetchOne, historyEvents, inCategory, observableState,
  sampleDelta, startMessage, workItem,
} from './helpers.js';

/** A delta touching every part of the store; `history` decides whether it is valid. */
function richDelta(history: OrchestrationDelta['history'], now: number): OrchestrationDelta {
  return sampleDelta({
    instance: { status: 'completed', output: { done: true }, stateValue: 'done', context: { n: 9 } },
    history,
    messages: [eventMessage('other', 'HELLO'), startMessage('child')],
    timers: [{ timerId: 't1', fireAt: now + 60_000, executionId: 1, payload: { timerId: 't1', event: { type: 'TICK' } } }],
    workItems: [workItem('a', 'act-2')],
    cancelTimers: ['t0'],
    cancelActivities: ['act-1'],
  });
}

/** Instance 'a' with one queued timer 't0', one work item 'act-1' and an event being handled under `lockToken`. */
async function preparedInstance(provider: Parameters<typeof createInstance>[0]): Promise<{ lockToken: string; now: number }> {
  const now = await provider.now();
  await createInstance(provider, 'a', {
    timers: [{ timerId: 't0', fireAt: now + 3_600_000, executionId: 1, payload: { timerId: 't0', event: { type: 'LATER' } } }],
    workItems: [workItem('a', 'act-1')],
  });
  await provider.enqueueOrchestratorMessage(eventMessage('a', 'GO'));
  const item = await fetchOne(provider, 'a');
  return { lockToken: item.lockToken, now: item.now };
}

const IDS = ['a', 'other', 'child'];

export const atomicityCases = inCategory('atomicity', [
  {
    name: 'a failing ack changes nothing observable',
    async run({ put: { provider } }) {
      const { lockToken, now } = await preparedInstance(provider);
      const before = await observableState(provider, IDS);
      // seq 0 already exists: the whole delta must be refused
      await expectError(provider.ackOrchestrationItem(lockToken, richDelta(historyEvents(1, 0, 2), now)), InvalidArgumentError);
      assert.equal(await observableState(provider, IDS), before);
    },
  },
  {
    name: 'a failing ack keeps a still-valid lock: the corrected ack succeeds',
    async run({ put: { provider } }) {
      const { lockToken, now } = await preparedInstance(provider);
      await expectError(provider.ackOrchestrationItem(lockToken, richDelta(historyEvents(1, 0, 1), now)), InvalidArgumentError);
      await provider.ackOrchestrationItem(lockToken, richDelta(historyEvents(1, 1, 1), now));
      assert.is((await provider.getInstance('a'))?.status, 'completed');
    },
  },
  {
    name: 'a multi-part ack commits every part',
    async run({ put: { provider } }) {
      const { lockToken, now } = await preparedInstance(provider);
      await provider.ackOrchestrationItem(lockToken, richDelta(historyEvents(1, 1, 2), now));
      const record = await provider.getInstance('a');
      assert.equal([record?.status, record?.output, record?.historyLength, record?.turns], ['completed', { done: true }, 3, 2]);
      assert.equal((await collect(provider.readHistory('a'))).map((e) => e.seq), [0, 1, 2]);
      assert.is(await provider.hasPendingStart('child'), true, 'child start enqueued');
      const depths = await provider.queueDepths();
      // visible: the event to 'other' and the child start; delayed: the new timer (t0 cancelled)
      assert.equal(depths.orchestrator, { visible: 2, delayed: 1, locked: 0 });
      const work = await provider.fetchWorkItems({ lockMs: 1000, max: 10 });
      assert.equal(work.map((w) => w.activityId), ['act-2'], 'act-1 cancelled, act-2 queued');
    },
  },
  {
    name: 'of two acks with one token exactly one succeeds',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      const results = await Promise.allSettled([
        provider.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1), messages: [eventMessage('x', 'ONE')] })),
        provider.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1), messages: [eventMessage('x', 'TWO')] })),
      ]);
      assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.instance(rejected.reason, LockLostError);
      assert.is((await provider.getInstance('a'))?.turns, 1);
      assert.is((await fetchOne(provider, 'x')).messages.length, 1, 'only one ack enqueued its message');
    },
  },
  {
    name: 'an ack refused for a lost lock changes nothing observable',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const { lockToken, now } = await preparedInstance(provider);
      clockOf(ctx).advance(120_000);
      const before = await observableState(provider, IDS);
      await expectError(provider.ackOrchestrationItem(lockToken, richDelta(historyEvents(1, 1, 2), now)), LockLostError);
      assert.equal(await observableState(provider, IDS), before);
    },
  },
]);
