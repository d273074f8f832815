/** Bad input is refused with a typed error before anything is written. */
import * as assert from 'uvu/assert';
import { InstanceNotFoundError, InvalidArgumentError } from '../../providers/errors.js';
import type { OrchestratorMessageInput } from '../../providers/contract.js';
import {
  LOCK_MS, collect, createInstance, eventMessage, expectError, fetchNone, fetchOne, historyEvents, inCategory,
  observableState, sampleDelta, startMessage,
} from './helpers.js';

/** Enqueue a message with a bad payload: refused, and the queue stays empty. */
async function refusesPayload(provider: Parameters<typeof createInstance>[0], payload: unknown): Promise<void> {
  const msg = { instanceId: 'a', kind: 'event', payload } as unknown as OrchestratorMessageInput;
  await expectError(provider.enqueueOrchestratorMessage(msg), InvalidArgumentError);
  await fetchNone(provider, 'a refused message must not be queued');
}

export const errorHandlingCases = inCategory('error handling', [
  {
    name: 'a history seq that already exists fails the ack with InvalidArgumentError',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1) })), InvalidArgumentError);
      assert.is((await provider.getInstance('a'))?.historyLength, 1);
    },
  },
  {
    name: 'a seq repeated within one delta fails the ack with InvalidArgumentError',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      const history = [...historyEvents(1, 0, 2), ...historyEvents(1, 1, 1)];
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta({ history })), InvalidArgumentError);
      assert.is(await provider.getInstance('a'), null);
    },
  },
  {
    name: 'a payload with a cycle is refused',
    async run({ put: { provider } }) {
      const cyclic: Record<string, unknown> = { type: 'LOOP' };
      cyclic.self = cyclic;
      await refusesPayload(provider, cyclic);
    },
  },
  {
    name: 'a payload with NaN or Infinity is refused',
    async run({ put: { provider } }) {
      await refusesPayload(provider, { type: 'N', value: Number.NaN });
      await refusesPayload(provider, { type: 'N', value: [Number.POSITIVE_INFINITY] });
    },
  },
  {
    name: 'a payload with a BigInt, a function or a Date is refused',
    async run({ put: { provider } }) {
      await refusesPayload(provider, { type: 'B', value: 10n });
      await refusesPayload(provider, { type: 'F', value: () => 1 });
      await refusesPayload(provider, { type: 'D', value: new Date(0) });
    },
  },
  {
    name: 'a missing payload is refused',
    async run({ put: { provider } }) {
      await refusesPayload(provider, undefined);
    },
  },
  {
    name: 'an unknown message kind is refused',
    async run({ put: { provider } }) {
      const msg = { instanceId: 'a', kind: 'explode', payload: {} } as unknown as OrchestratorMessageInput;
      await expectError(provider.enqueueOrchestratorMessage(msg), InvalidArgumentError);
      await fetchNone(provider);
    },
  },
  {
    name: 'an empty instance id is refused',
    async run({ put: { provider } }) {
      await expectError(provider.enqueueOrchestratorMessage(eventMessage('')), InvalidArgumentError, 'enqueue');
      await expectError(provider.getInstance(''), InvalidArgumentError, 'getInstance');
      await fetchNone(provider);
    },
  },
  {
    name: 'lockMs <= 0 is refused by fetches and renewals',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await expectError(provider.fetchOrchestrationItems({ lockMs: 0 }), InvalidArgumentError, 'fetch lockMs 0');
      await expectError(provider.fetchWorkItems({ lockMs: -5 }), InvalidArgumentError, 'fetchWorkItems lockMs -5');
      const item = await fetchOne(provider, 'a');
      await expectError(provider.renewOrchestrationLock(item.lockToken, 0), InvalidArgumentError, 'renew lockMs 0');
    },
  },
  {
    name: 'max < 1 and negative waitMs are refused',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await expectError(provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 0 }), InvalidArgumentError, 'max 0');
      await expectError(provider.fetchWorkItems({ lockMs: LOCK_MS, max: 0 }), InvalidArgumentError, 'work max 0');
      await expectError(provider.fetchOrchestrationItems({ lockMs: LOCK_MS, waitMs: -1 }), InvalidArgumentError, 'waitMs -1');
      await fetchOne(provider, 'a');
    },
  },
  {
    name: 'a negative abandon delay is refused and the lock stays held',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      await expectError(provider.abandonOrchestrationItem(item.lockToken, { delayMs: -1 }), InvalidArgumentError);
      await fetchNone(provider, 'still locked');
      await provider.abandonOrchestrationItem(item.lockToken);
    },
  },
  {
    name: 'an ack with a non-JSON context is refused and writes nothing',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      const before = await observableState(provider, ['a']);
      const context = { when: new Map([[1, 2]]) } as unknown as Record<string, never>;
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { context } })), InvalidArgumentError);
      assert.equal(await observableState(provider, ['a']), before);
    },
  },
  {
    name: 'reading the history of a missing instance raises InstanceNotFoundError',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('pending'));
      await expectError(collect(provider.readHistory('missing')), InstanceNotFoundError, 'missing');
      await expectError(collect(provider.readHistory('pending')), InstanceNotFoundError, 'pending, not created');
    },
  },
  {
    name: 'deleting or pruning a missing instance raises InstanceNotFoundError',
    async run({ put: { provider } }) {
      await expectError(provider.deleteInstance('missing'), InstanceNotFoundError, 'delete');
      await expectError(provider.pruneExecutions('missing'), InstanceNotFoundError, 'prune');
      assert.is(await provider.getInstance('missing'), null);
    },
  },
  {
    name: 'a cursor the provider did not issue is refused',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await expectError(provider.listInstances({}, { cursor: '%%not a cursor%%' }), InvalidArgumentError);
    },
  },
]);
