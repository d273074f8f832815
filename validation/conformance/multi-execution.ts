/** Continue-as-new: execution N+1 starts with its own, empty history; reads default to the latest. */
import * as assert from 'uvu/assert';
import { InvalidArgumentError } from '../../providers/errors.js';
import type { Provider } from '../../providers/contract.js';
import {
  collect, createInstance, eventMessage, expectError, fetchOne, historyEvents, inCategory, sampleDelta,
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
    name: 'history reads stream in seq order from fromSeq, stamped with instance and ack time',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { history: historyEvents(1, 0, 5) });
      const created = await provider.getInstance('a');
      const events = await collect(provider.readHistory('a', { fromSeq: 2 }));
      assert.equal(events.map((e) => [e.instanceId, e.seq, e.at]), [2, 3, 4].map((seq) => ['a', seq, created?.createdAt]));
    },
  },
]);
