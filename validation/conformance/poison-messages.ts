/** Attempt counting per message and per work item, dead letters and redrive. */
import * as assert from 'uvu/assert';
import type { Provider } from '../../providers/contract.js';
import {
  LOCK_MS, createInstance, eventMessage, fetchNone, fetchOne, inCategory, sampleDelta, startMessage, workItem,
} from './helpers.js';

const failedResult = (activityId: string) => ({ instanceId: 'a', kind: 'activityFailed' as const, payload: { activityId, error: { name: 'Poison', message: 'too many attempts' } } });

async function fetchWork(provider: Provider) {
  const [item] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
  assert.ok(item, 'expected a work item');
  return item;
}

export const poisonMessageCases = inCategory('poison messages', [
  {
    name: 'the first fetch of a message is attempt 1',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      assert.equal([item.attempt, item.messages[0]?.attempt], [1, 1]);
    },
  },
  {
    name: 'each fetch of a message increases its attempt',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      for (const expected of [1, 2, 3]) {
        const item = await fetchOne(provider, 'a');
        assert.is(item.attempt, expected);
        await provider.abandonOrchestrationItem(item.lockToken);
      }
    },
  },
  {
    name: 'attempts are per message; the item reports the highest',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.abandonOrchestrationItem((await fetchOne(provider, 'a')).lockToken);
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      assert.equal(item.messages.map((m) => [m.kind, m.attempt]), [['start', 2], ['event', 1]]);
      assert.is(item.attempt, 2);
    },
  },
  {
    name: 'abandon with countAttempt false does not count the fetch',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.abandonOrchestrationItem((await fetchOne(provider, 'a')).lockToken, { countAttempt: false });
      assert.is((await fetchOne(provider, 'a')).attempt, 1);
    },
  },
  {
    name: 'dead-lettered messages leave the queue and are listed with their reason',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'BAD'));
      const item = await fetchOne(provider, 'a');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ deadLetterMessageIds: [item.messages[0]!.id], deadLetterReason: 'poison: 5 attempts' }));
      await fetchNone(provider, 'a dead letter is not redelivered');
      const { items } = await provider.listDeadLetters();
      assert.equal(items.map((d) => [d.queue, d.instanceId, d.reason]), [['orchestrator', 'a', 'poison: 5 attempts']]);
      const stored = items[0]!.item as { payload?: unknown; attempt?: unknown };
      assert.equal([stored.payload, stored.attempt], [{ type: 'BAD' }, 1]);
      assert.is((await provider.queueDepths()).deadLetters, 1);
    },
  },
  {
    name: 'a redriven message is visible again with its attempt count reset',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'BAD'));
      await provider.abandonOrchestrationItem((await fetchOne(provider, 'a')).lockToken);
      const item = await fetchOne(provider, 'a');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ deadLetterMessageIds: [item.messages[0]!.id] }));
      const [letter] = (await provider.listDeadLetters()).items;
      await provider.redriveDeadLetter(letter!.id);
      assert.equal((await provider.listDeadLetters()).items, []);
      const again = await fetchOne(provider, 'a');
      assert.equal(again.messages.map((m) => [m.kind, m.payload, m.attempt]), [['event', { type: 'BAD' }, 1]]);
    },
  },
  {
    name: 'each fetch of a work item increases its attempt; countAttempt false does not count',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      const first = await fetchWork(provider);
      await provider.abandonWorkItem(first.lockToken);
      const second = await fetchWork(provider);
      await provider.abandonWorkItem(second.lockToken, { countAttempt: false });
      const third = await fetchWork(provider);
      assert.equal([first.attempt, second.attempt, third.attempt], [1, 2, 2]);
    },
  },
  {
    name: 'a worker ack with deadLetterReason dead-letters the item and still enqueues the result',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      const item = await fetchWork(provider);
      await provider.ackWorkItem(item.lockToken, failedResult('act'), { deadLetterReason: 'activity poisoned' });
      const { items } = await provider.listDeadLetters();
      assert.equal(items.map((d) => [d.queue, d.instanceId, d.reason]), [['worker', 'a', 'activity poisoned']]);
      assert.equal(await provider.fetchWorkItems({ lockMs: LOCK_MS }), []);
      assert.equal((await fetchOne(provider, 'a')).messages.map((m) => m.kind), ['activityFailed']);
    },
  },
  {
    name: 'a redriven work item is fetchable again with attempt 1',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act', { payload: { n: 7 } })] });
      await provider.abandonWorkItem((await fetchWork(provider)).lockToken);
      await provider.ackWorkItem((await fetchWork(provider)).lockToken, failedResult('act'), { deadLetterReason: 'poison' });
      await provider.redriveDeadLetter((await provider.listDeadLetters()).items[0]!.id);
      const again = await fetchWork(provider);
      assert.equal([again.activityId, again.payload, again.attempt], ['act', { n: 7 }, 1]);
    },
  },
]);
