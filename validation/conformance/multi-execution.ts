/**
 * Continue-as-new: execution N+1 starts with its own, empty history; reads default to the latest. One
 * ack may pass through executions (continue as new in the first turn, or more than once in a turn).
 */
import * as assert from 'uvu/assert';
import { InvalidArgumentError } from '../../providers/errors.js';
import type { Json, Provider } from '../../providers/contract.js';
import {
  collect, createInstance, eventMessage, expectError, fetchNone, fetchOne, historyEvents, inCategory, observableState, sampleDelta,
  startMessage,
} from './helpers.js';

/** 'a' with 3 events in execution 1, then a turn that continues as new with 2 events in execution 2. */
async function continuedInstance(provider: Provider): Promise<void> {
  await createInstance(provider, 'a', { instance: { input: 'one' }, history: historyEvents(1, 0, 3) });
  await provider.enqueueOrchestratorMessage(eventMessage('a', 'AGAIN'));
  const item = await fetchOne(provider, 'a');
  await provider.ackOrchestrationItem(item.lockToken, sampleDelta({
    instance: { executionId: 2, input: 'two' },
    history: historyEvents(2, 0, 2, 'started'),
  }));
}

export const multiExecutionCases = inCategory('multi-execution', [
  {
    name: 'continue-as-new opens execution N+1 with its own input',
    async run({ put: { provider } }) {
      await continuedInstance(provider);
      const record = await provider.getInstance('a');
      assert.equal([record?.executionId, record?.input, record?.turns], [2, 'two', 2]);
    },
  },
  {
    name: 'historyLength counts the current execution only',
    async run({ put: { provider } }) {
      await continuedInstance(provider);
      assert.is((await provider.getInstance('a'))?.historyLength, 2);
    },
  },
  {
    name: 'seqs restart at 0 in the new execution without clashing with the old',
    async run({ put: { provider } }) {
      await continuedInstance(provider);
      assert.equal((await collect(provider.readHistory('a'))).map((e) => [e.executionId, e.seq, e.type]), [[2, 0, 'started'], [2, 1, 'started']]);
    },
  },
  {
    name: 'the old execution keeps its history, readable by executionId',
    async run({ put: { provider } }) {
      await continuedInstance(provider);
      const old = await collect(provider.readHistory('a', { executionId: 1 }));
      assert.equal(old.map((e) => [e.executionId, e.seq, e.data]), [[1, 0, { i: 0 }], [1, 1, { i: 1 }], [1, 2, { i: 2 }]]);
    },
  },
  {
    name: 'fetched items carry the current execution after continue-as-new',
    async run({ put: { provider } }) {
      await continuedInstance(provider);
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      assert.is(item.executionId, 2);
      assert.is(item.instance?.executionId, 2);
    },
  },
  {
    name: 'an ack writing an older execution than the stored one is refused',
    async run({ put: { provider } }) {
      await continuedInstance(provider);
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { executionId: 1 } })), InvalidArgumentError);
      assert.is((await provider.getInstance('a'))?.executionId, 2);
    },
  },
  {
    name: 'an ack may create an instance already continued as new: history of execution 1 and 2 in one ack',
    async run({ put: { provider } }) {
      // A start and the event that continues it as new, fetched together: the first ack passes execution 1.
      await provider.enqueueOrchestratorMessage(startMessage('a', 'one'));
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'AGAIN'));
      const item = await fetchOne(provider, 'a');
      assert.is(item.instance, null);
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({
        instance: { executionId: 2, input: 'two', passedExecutionInputs: ['one'] },
        history: [...historyEvents(1, 0, 3), ...historyEvents(2, 0, 1, 'started')],
      }));
      const record = await provider.getInstance('a');
      assert.equal([record?.executionId, record?.input, record?.historyLength, record?.turns], [2, 'two', 1, 1]);
      assert.equal((await collect(provider.readHistory('a'))).map((e) => [e.executionId, e.seq]), [[2, 0]]);
      assert.equal((await collect(provider.readHistory('a', { executionId: 1 }))).map((e) => [e.executionId, e.seq]), [[1, 0], [1, 1], [1, 2]]);
      await fetchNone(provider, 'both messages were consumed');
    },
  },
  {
    name: 'one ack may continue twice: the execution in between is created and closed by it',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { instance: { input: 'one' }, history: historyEvents(1, 0, 1, 'started') });
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'AGAIN'));
      const item = await fetchOne(provider, 'a');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({
        instance: { executionId: 3, input: 'three', passedExecutionInputs: ['two'] },
        history: [...historyEvents(1, 1, 1), ...historyEvents(2, 0, 2, 'started'), ...historyEvents(3, 0, 1, 'started')],
      }));
      const record = await provider.getInstance('a');
      assert.equal([record?.executionId, record?.input, record?.historyLength, record?.turns], [3, 'three', 1, 2]);
      const seqs = async (executionId: number) => (await collect(provider.readHistory('a', { executionId }))).map((e) => e.seq);
      assert.equal([await seqs(1), await seqs(2), await seqs(3)], [[0, 1], [0, 1], [0]]);
    },
  },
  {
    name: 'an ack whose passedExecutionInputs does not match the executions it passes is refused, changing nothing',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { instance: { input: 'one' } });
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'AGAIN'));
      const item = await fetchOne(provider, 'a');
      const before = await observableState(provider, ['a']);
      const continueTo = (executionId: number, passedExecutionInputs: Json[]) => provider.ackOrchestrationItem(item.lockToken, sampleDelta({
        instance: { executionId, input: 'last', passedExecutionInputs },
        history: historyEvents(executionId, 0, 1, 'started'),
      }));
      await expectError(continueTo(3, []), InvalidArgumentError, 'an ack to execution 3 passing no input for execution 2');
      await expectError(continueTo(2, ['extra']), InvalidArgumentError, 'an ack to execution 2 passing an input for a nonexistent execution');
      assert.equal(await observableState(provider, ['a']), before);
    },
  },
  {
    name: 'history for an execution after the new current one is refused',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(2, 0, 1, 'started') })), InvalidArgumentError);
      assert.is(await provider.getInstance('a'), null);
    },
  },
  {
    name: 'history reads stream in seq order from fromSeq, stamped with instance and ack time',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { history: historyEvents(1, 0, 5) });
      const created = await provider.getInstance('a');
      const events = await collect(provider.readHistory('a', { fromSeq: 2 }));
      assert.equal(events.map((e) => [e.instanceId, e.seq, e.at]), [2, 3, 4].map((seq) => ['a', seq, created?.createdAt]));
    },
  },
]);
