/** Reads and admin: listing, paging, depths, delete (cascading, guarded), prune and purge. */
import * as assert from 'uvu/assert';
import { InstanceRunningError, LockLostError } from '../../providers/errors.js';
import type { InstanceStatus } from '../../providers/types.js';
import type { Provider } from '../../providers/contract.js';
import {
  LOCK_MS, clockOf, collect, createInstance, eventMessage, expectError, fetchNone, fetchOne, historyEvents, inCategory,
  sampleDelta, startMessage, turn, workItem,
} from './helpers.js';

const parentRef = (instanceId: string) => ({ instanceId, executionId: 1, invokeId: `child-of-${instanceId}` });

/** Create instances in order, each with the given status (and parent). */
async function createAll(provider: Provider, specs: Array<[id: string, status: InstanceStatus, parent?: string, name?: string]>): Promise<void> {
  for (const [id, status, parent, name] of specs) {
    await createInstance(provider, id, { instance: { status, name: name ?? 'sample', parent: parent ? parentRef(parent) : null } });
  }
}

const ids = (page: { items: Array<{ instanceId: string }> }) => page.items.map((r) => r.instanceId);

export const managementCases = inCategory('management', [
  {
    name: 'listInstances orders by creation time, then instance id',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await createAll(provider, [['m', 'running'], ['b', 'running']]);
      clockOf(ctx).advance(10);
      await createAll(provider, [['a', 'running']]);
      assert.equal(ids(await provider.listInstances()), ['b', 'm', 'a']);
    },
  },
  {
    name: 'listInstances filters by status, name and parent',
    async run({ put: { provider } }) {
      await createAll(provider, [['a', 'running', undefined, 'order'], ['b', 'completed', undefined, 'order'], ['c', 'failed', 'a'], ['d', 'running', 'a']]);
      assert.equal(ids(await provider.listInstances({ status: ['completed', 'failed'] })).sort(), ['b', 'c']);
      assert.equal(ids(await provider.listInstances({ name: 'order' })).sort(), ['a', 'b']);
      assert.equal(ids(await provider.listInstances({ parentInstanceId: 'a' })).sort(), ['c', 'd']);
      assert.equal(ids(await provider.listInstances({ name: 'order', status: ['running'] })), ['a']);
    },
  },
  {
    name: 'listInstances filters by creation time, from inclusive and to exclusive',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      const t0 = clock.now();
      for (const id of ['a', 'b', 'c']) {
        await createAll(provider, [[id, 'running']]);
        clock.advance(100);
      }
      assert.equal(ids(await provider.listInstances({ createdFrom: t0 + 100, createdTo: t0 + 200 })), ['b']);
      assert.equal(ids(await provider.listInstances({ createdFrom: t0 + 100 })), ['b', 'c']);
    },
  },
  {
    name: 'pages chain through every instance once, ending with a null cursor',
    async run({ put: { provider } }) {
      const all = ['a', 'b', 'c', 'd', 'e'];
      await createAll(provider, all.map((id) => [id, 'running'] as [string, InstanceStatus]));
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await provider.listInstances({}, { cursor, limit: 2 });
        assert.ok(page.items.length <= 2);
        seen.push(...ids(page));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 10);
      assert.equal(seen.sort(), all);
      assert.is(pages, 3);
    },
  },
  {
    name: 'records returned are copies: changing them changes nothing stored',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { instance: { context: { list: [1] } } });
      const record = await provider.getInstance('a');
      (record!.context as { list: number[] }).list.push(2);
      record!.status = 'failed';
      const again = await provider.getInstance('a');
      assert.equal([again?.context, again?.status], [{ list: [1] }, 'running']);
    },
  },
  {
    name: 'queueDepths counts visible, delayed and locked items of both queues and dead letters',
    async run({ put: { provider } }) {
      const now = await provider.now();
      await createInstance(provider, 'a', { workItems: [workItem('a', 'w1'), workItem('a', 'w2'), workItem('a', 'w3', { visibleAt: now + 3_600_000 })] });
      await provider.enqueueOrchestratorMessage(startMessage('b'));
      await provider.enqueueOrchestratorMessage(eventMessage('c'));
      await provider.enqueueOrchestratorMessage(eventMessage('c'));
      await provider.enqueueOrchestratorMessage(eventMessage('d'), { visibleAt: now + 3_600_000 });
      await fetchOne(provider, 'b');
      await provider.fetchWorkItems({ lockMs: LOCK_MS, max: 1 });
      assert.equal(await provider.queueDepths(), {
        orchestrator: { visible: 2, delayed: 1, locked: 1 },
        worker: { visible: 1, delayed: 1, locked: 1 },
        deadLetters: 0,
      });
    },
  },
  {
    name: 'deleting an instance cascades to its descendants and their queued work',
    async run({ put: { provider } }) {
      await createAll(provider, [['p', 'completed'], ['c1', 'completed', 'p'], ['g', 'terminated', 'c1'], ['other', 'completed']]);
      await provider.enqueueOrchestratorMessage(eventMessage('g'));
      assert.is(await provider.deleteInstance('p'), 3);
      for (const id of ['p', 'c1', 'g']) assert.is(await provider.getInstance(id), null, `${id} deleted`);
      assert.ok(await provider.getInstance('other'));
      await fetchNone(provider, 'the queued message of a deleted instance is gone');
    },
  },
  {
    name: 'deleting a running instance without force raises InstanceRunningError and deletes nothing',
    async run({ put: { provider } }) {
      await createAll(provider, [['a', 'running']]);
      await expectError(provider.deleteInstance('a'), InstanceRunningError);
      assert.ok(await provider.getInstance('a'));
    },
  },
  {
    name: 'deleting a terminal parent of a running child without force is refused',
    async run({ put: { provider } }) {
      await createAll(provider, [['p', 'completed'], ['c', 'suspended', 'p']]);
      await expectError(provider.deleteInstance('p'), InstanceRunningError);
      assert.ok(await provider.getInstance('p'));
      assert.ok(await provider.getInstance('c'));
    },
  },
  {
    name: 'a forced delete removes a running, locked instance and fences its lock',
    async run({ put: { provider } }) {
      await createAll(provider, [['a', 'running']]);
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const item = await fetchOne(provider, 'a');
      assert.is(await provider.deleteInstance('a', { force: true }), 1);
      await expectError(provider.ackOrchestrationItem(item.lockToken, sampleDelta()), LockLostError);
      assert.is(await provider.getInstance('a'), null);
    },
  },
  {
    name: 'prune deletes executions older than the newest keep, never the current one',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { history: historyEvents(1, 0, 2) });
      for (const executionId of [2, 3]) {
        await provider.enqueueOrchestratorMessage(eventMessage('a'));
        const item = await fetchOne(provider, 'a');
        await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ instance: { executionId }, history: historyEvents(executionId, 0, 1) }));
      }
      assert.is(await provider.pruneExecutions('a', { keep: 2 }), 1);
      assert.equal(await collect(provider.readHistory('a', { executionId: 1 })), []);
      assert.is((await collect(provider.readHistory('a', { executionId: 2 }))).length, 1);
      assert.is(await provider.pruneExecutions('a'), 1);
      assert.is((await collect(provider.readHistory('a'))).length, 1, 'the current execution is kept');
      assert.is(await provider.pruneExecutions('a', { keep: 1 }), 0);
    },
  },
  {
    name: 'purge deletes terminal instances completed before the time, with their children',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await createAll(provider, [['old', 'completed'], ['old-child', 'running', 'old'], ['running', 'running']]);
      const cutoff = clock.advance(1000);
      await createAll(provider, [['recent', 'failed']]);
      assert.is(await provider.purge(cutoff), 2);
      assert.equal(ids(await provider.listInstances()).sort(), ['recent', 'running']);
    },
  },
  {
    name: 'hasPendingStart turns false once the first ack created the instance',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      assert.is(await provider.hasPendingStart('a'), true);
      await fetchOne(provider, 'a').then((item) => provider.ackOrchestrationItem(item.lockToken, sampleDelta()));
      assert.is(await provider.hasPendingStart('a'), false);
      assert.is(await provider.hasPendingStart('never'), false);
    },
  },
  {
    name: 'watchInstance calls a listener after each ack of its instance, only its instance, until unsubscribed',
    async run({ put: { provider } }) {
      const calls: string[] = [];
      const unwatch: Array<() => void> = [];
      /** Resolves at the next change notification for `id` (registered now, so none is missed). */
      const nextChange = (id: string) => {
        const change = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no change notification for ${id} within 10 s`)), 10_000);
          unwatch.push(() => clearTimeout(timer), provider.watchInstance(id, () => (clearTimeout(timer), resolve())));
        });
        change.catch(() => {}); // awaited below; this only keeps an abandoned wait from crashing the run
        return change;
      };
      try {
        const stopA = provider.watchInstance('a', (id) => calls.push(`a:${id}`));
        unwatch.push(provider.watchInstance('b', (id) => calls.push(`b:${id}`)));
        let changed = nextChange('a');
        await createInstance(provider, 'a');
        await changed;
        assert.equal(calls, ['a:a'], 'the listener of a was called for a, the listener of b not');
        stopA();
        // A listener still registered proves the second notification was delivered; the removed one
        // would have been called with it.
        changed = nextChange('a');
        await provider.enqueueOrchestratorMessage(eventMessage('a'));
        await turn(provider, 'a', { history: historyEvents(1, 1, 1) });
        await changed;
        assert.equal(calls, ['a:a'], 'an unsubscribed listener is not called again');
      } finally {
        for (const stop of unwatch) stop();
      }
    },
  },
]);
