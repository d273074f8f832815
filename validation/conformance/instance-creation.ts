/** Instances come into being by their first ack, never by an enqueue; one start per instance id. */
import * as assert from 'uvu/assert';
import { InstanceExistsError } from '../../providers/errors.js';
import {
  createInstance, eventMessage, expectError, fetchNone, fetchOne, historyEvents, inCategory, kinds, observableState,
  sampleDelta, startMessage,
} from './helpers.js';

export const instanceCreationCases = inCategory('instance creation', [
  {
    name: 'enqueueing an event does not create the instance',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      assert.is(await provider.getInstance('a'), null);
      assert.equal((await provider.listInstances()).items, []);
    },
  },
  {
    name: 'enqueueing a start makes it pending, not existing',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      assert.is(await provider.hasPendingStart('a'), true);
      assert.is(await provider.getInstance('a'), null);
    },
  },
  {
    name: 'a fetch before the first ack reports no instance and execution 1',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      assert.is(item.instance, null);
      assert.is(item.executionId, 1);
    },
  },
  {
    name: 'the first ack creates the instance with the written fields',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a', { amount: 3 }));
      const item = await fetchOne(provider, 'a');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({
        instance: { name: 'order', version: '7', input: { amount: 3 }, stateValue: { pay: 'waiting' }, context: { n: 1 } },
        history: historyEvents(1, 0, 2),
      }));
      const record = await provider.getInstance('a');
      assert.ok(record, 'instance exists after its first ack');
      assert.equal(
        { name: record.name, version: record.version, executionId: record.executionId, status: record.status, input: record.input,
          stateValue: record.stateValue, context: record.context, historyLength: record.historyLength, turns: record.turns, parent: record.parent },
        { name: 'order', version: '7', executionId: 1, status: 'running', input: { amount: 3 }, stateValue: { pay: 'waiting' },
          context: { n: 1 }, historyLength: 2, turns: 1, parent: null },
      );
      assert.is(record.createdAt, item.now, 'createdAt is the provider time of the creating ack');
      assert.is(await provider.hasPendingStart('a'), false);
    },
  },
  {
    name: 'events enqueued before the start wait for it and come in the same item',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'EARLY'));
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      assert.equal(kinds(item), ['event', 'start']);
    },
  },
  {
    name: 'a start for an existing instance raises InstanceExistsError',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await expectError(provider.enqueueOrchestratorMessage(startMessage('a')), InstanceExistsError);
      await fetchNone(provider, 'the refused start must not be queued');
    },
  },
  {
    name: 'a start for a pending instance raises InstanceExistsError',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await expectError(provider.enqueueOrchestratorMessage(startMessage('a')), InstanceExistsError);
      const item = await fetchOne(provider, 'a');
      assert.equal(kinds(item), ['start'], 'only the first start is queued');
    },
  },
  {
    name: 'a child start in an ack creates the child only at its own first ack',
    async run({ put: { provider } }) {
      const parent = { instanceId: 'p', executionId: 1, invokeId: 'kid' };
      await createInstance(provider, 'p', { messages: [{ ...startMessage('c'), payload: { name: 'child', input: 1, parent } }] });
      assert.is(await provider.getInstance('c'), null, 'the child does not exist before its first ack');
      assert.is(await provider.hasPendingStart('c'), true);
      const item = await fetchOne(provider, 'c');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { name: 'child', parent } }));
      assert.equal((await provider.getInstance('c'))?.parent, parent);
    },
  },
  {
    name: 'an ack starting a child that already exists raises InstanceExistsError and writes nothing',
    async run({ put: { provider } }) {
      await createInstance(provider, 'c');
      await provider.enqueueOrchestratorMessage(eventMessage('p'));
      const item = await fetchOne(provider, 'p');
      const before = await observableState(provider, ['p', 'c']);
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta({ messages: [startMessage('c')] })), InstanceExistsError);
      assert.equal(await observableState(provider, ['p', 'c']), before);
    },
  },
  {
    name: 'parent and input are kept from the creating ack',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { instance: { input: 'first' } });
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({
        instance: { input: 'second', parent: { instanceId: 'x', executionId: 1, invokeId: 'y' } },
      }));
      const record = await provider.getInstance('a');
      assert.is(record?.input, 'first');
      assert.is(record?.parent, null);
      assert.is(record?.turns, 2);
    },
  },
]);
