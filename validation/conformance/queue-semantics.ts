/** Queue behaviour: order, peek-lock, delayed visibility, timers, worker results, kept messages. */
import * as assert from 'uvu/assert';
import {
  LOCK_MS, clockOf, createInstance, eventMessage, expectError, fetchNone, fetchOne, inCategory, kinds, sampleDelta, startMessage, workItem,
} from './helpers.js';
import { LockLostError } from '../../providers/errors.js';
import type { Json } from '../../providers/types.js';

export const queueSemanticsCases = inCategory('queue semantics', [
  {
    name: 'instances are fetched in the order of their oldest visible message',
    async run({ put: { provider } }) {
      for (const id of ['c', 'a', 'b']) await provider.enqueueOrchestratorMessage(startMessage(id));
      const order: string[] = [];
      for (let i = 0; i < 3; i++) order.push((await fetchOne(provider)).instanceId);
      assert.equal(order, ['c', 'a', 'b']);
    },
  },
  {
    name: 'one fetch hands out its instances in the order of their oldest visible message, each with its messages in order',
    async run({ put: { provider } }) {
      for (const id of ['c', 'a', 'b']) await provider.enqueueOrchestratorMessage(startMessage(id));
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'LATER_A'));
      await provider.enqueueOrchestratorMessage(eventMessage('c', 'LATER_C'));
      const items = await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, max: 3 });
      assert.equal(items.map((i) => i.instanceId), ['c', 'a', 'b']);
      assert.equal(items.map(kinds), [['start', 'event'], ['start', 'event'], ['start']]);
    },
  },
  {
    name: 'instances whose locks expired are ordered by their oldest visible message',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(eventMessage('older'));
      await provider.enqueueOrchestratorMessage(eventMessage('newer'));
      await provider.fetchOrchestrationItems({ lockMs: 1000, max: 2 });
      clockOf(ctx).advance(1000); // both locks expire; both messages keep their visibleAt
      assert.is((await fetchOne(provider)).instanceId, 'older', 'same visibleAt: the smaller message id comes first');
    },
  },
  {
    name: 'an instance released by abandon is ordered by its oldest visible message against an expired one',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(eventMessage('older'));
      await provider.enqueueOrchestratorMessage(eventMessage('newer'));
      const items = await provider.fetchOrchestrationItems({ lockMs: 1000, max: 2 });
      // 'older' is released at once (its message keeps its visibleAt), 'newer' by expiry
      await provider.abandonOrchestrationItem(items.find((i) => i.instanceId === 'older')!.lockToken);
      clockOf(ctx).advance(1000);
      assert.is((await fetchOne(provider)).instanceId, 'older', 'same visibleAt: the smaller message id comes first');
    },
  },
  {
    name: 'an item lists its messages in enqueue order',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      for (const type of ['E1', 'E2', 'E3']) await provider.enqueueOrchestratorMessage(eventMessage('a', type));
      const item = await fetchOne(provider, 'a');
      assert.equal(item.messages.map((m) => (m.payload as { type?: string }).type ?? m.kind), ['start', 'E1', 'E2', 'E3']);
    },
  },
  {
    name: 'message ids increase in enqueue order',
    async run({ put: { provider } }) {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await provider.enqueueOrchestratorMessage(eventMessage('a', `E${i}`))).id);
      const item = await fetchOne(provider, 'a');
      assert.equal(item.messages.map((m) => m.id), ids);
      assert.is(new Set(ids).size, 3);
    },
  },
  {
    name: 'a fetch is a peek-lock: abandoned messages come back unchanged',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage({ ...eventMessage('a', 'KEEP', { nested: { list: [1, 'two', null, true] } }) });
      const first = await fetchOne(provider, 'a');
      await provider.abandonOrchestrationItem(first.lockToken);
      const second = await fetchOne(provider, 'a');
      assert.equal(second.messages.map((m) => [m.id, m.kind, m.payload]), first.messages.map((m) => [m.id, m.kind, m.payload]));
    },
  },
  {
    name: "abandon with a delay keeps the instance's message order: a message that arrives during the delay is delivered together with, and after, the abandoned ones",
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'E1'));
      const abandoned = await fetchOne(provider, 'a');
      await provider.abandonOrchestrationItem(abandoned.lockToken, { delayMs: 2000 });
      clock.advance(1000);
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'E2'));
      await fetchNone(provider, 'E2 waits with the delayed instance');
      clock.advance(1000);
      const item = await fetchOne(provider, 'a');
      assert.equal(item.messages.map((m) => (m.payload as { type?: string }).type ?? m.kind), ['start', 'E1', 'E2']);
      assert.equal(item.messages.slice(0, 2).map((m) => [m.id, m.visibleAt]), abandoned.messages.map((m) => [m.id, m.visibleAt]),
        'the abandoned messages keep their visibleAt');
    },
  },
  {
    name: 'a message enqueued with a future visibleAt is fetched only once due',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await provider.enqueueOrchestratorMessage(startMessage('a'), { visibleAt: clock.now() + 5000 });
      assert.is(await provider.hasPendingStart('a'), true, 'a scheduled start is pending');
      clock.advance(4999);
      await fetchNone(provider, 'not due yet');
      clock.advance(1);
      const item = await fetchOne(provider, 'a');
      assert.is(item.messages[0]?.visibleAt, clock.now());
    },
  },
  {
    name: 'a message not yet visible is left out of the item and survives its ack',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'LATER'), { visibleAt: clock.now() + 1000 });
      const item = await fetchOne(provider, 'a');
      assert.equal(kinds(item), ['start']);
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta());
      clock.advance(1000);
      assert.equal((await fetchOne(provider, 'a')).messages.map((m) => m.payload), [{ type: 'LATER' }]);
    },
  },
  {
    name: 'the messages of a lost token are handed out again after expiry',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.enqueueOrchestratorMessage(eventMessage('a'));
      const lost = await fetchOne(provider, 'a', 1000);
      clockOf(ctx).advance(1000);
      const recovered = await fetchOne(provider, 'a');
      assert.equal(recovered.messages.map((m) => m.id), lost.messages.map((m) => m.id));
    },
  },
  {
    name: 'timers become timerFired messages visible at fireAt',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      const fireAt = clock.now() + 10_000;
      await createInstance(provider, 'a', { timers: [{ timerId: 't', fireAt, executionId: 1, payload: { timerId: 't', event: { type: 'TICK' } } }] });
      clock.advance(9_999);
      await fetchNone(provider, 'the timer is not due');
      clock.advance(1);
      const [message] = (await fetchOne(provider, 'a')).messages;
      assert.equal(
        [message?.kind, message?.timerId, message?.executionId, message?.visibleAt, message?.payload],
        ['timerFired', 't', 1, fireAt, { timerId: 't', event: { type: 'TICK' } }],
      );
    },
  },
  {
    name: 'messages sent by an ack honour their visibleAt',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await createInstance(provider, 'a', { messages: [{ ...eventMessage('b'), visibleAt: clock.now() + 500 }] });
      await fetchNone(provider, 'the message is delayed');
      clock.advance(500);
      await fetchOne(provider, 'b');
    },
  },
  {
    name: 'work items are handed out oldest first, at most max, with their fields',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', {
        workItems: [workItem('a', 'w1'), workItem('a', 'w2', { name: 'other', payload: { x: [1] } }), workItem('a', 'w3')],
      });
      const first = await provider.fetchWorkItems({ lockMs: 1000, max: 2 });
      assert.equal(first.map((w) => w.activityId), ['w1', 'w2']);
      const w2 = first[1]!;
      assert.equal([w2.instanceId, w2.executionId, w2.name, w2.payload, w2.attempt], ['a', 1, 'other', { x: [1] }, 1]);
      assert.is(w2.lockedUntil, w2.now + 1000);
      assert.equal((await provider.fetchWorkItems({ lockMs: 1000, max: 5 })).map((w) => w.activityId), ['w3']);
    },
  },
  {
    name: 'a worker ack deletes the item and enqueues its result in one step',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'act')] });
      const [item] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(item);
      await provider.ackWorkItem(item.lockToken, { instanceId: 'a', kind: 'activityCompleted', executionId: 1, payload: { activityId: 'act', output: 42 } });
      const depths = await provider.queueDepths();
      assert.equal(depths.worker, { visible: 0, delayed: 0, locked: 0 });
      const [message] = (await fetchOne(provider, 'a')).messages;
      assert.equal([message?.kind, message?.executionId, message?.payload], ['activityCompleted', 1, { activityId: 'act', output: 42 }]);
    },
  },
  {
    name: 'results of one instance acked together are each delivered exactly once, alone or merged into activityResults',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: ['w0', 'w1', 'w2', 'w3'].map((id) => workItem('a', id)) });
      const items = await provider.fetchWorkItems({ lockMs: LOCK_MS, max: 4 });
      assert.is(items.length, 4);
      await Promise.all(items.map((w, i) => provider.ackWorkItem(w.lockToken, {
        instanceId: 'a', executionId: 1,
        ...(i === 1 ? { kind: 'activityFailed', payload: { activityId: w.activityId, error: { message: 'no' } } } : { kind: 'activityCompleted', payload: { activityId: w.activityId, output: i } }),
      })));
      const { messages } = await fetchOne(provider, 'a');
      for (const m of messages) assert.is(m.executionId, 1);
      const delivered = messages.flatMap((m) => m.kind === 'activityResults'
        ? (m.payload as { results: Array<{ kind: string; payload: Json }> }).results.map((r) => [r.kind, r.payload])
        : [[m.kind, m.payload]]);
      assert.equal(delivered.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), [
        ['activityCompleted', { activityId: 'w0', output: 0 }],
        ['activityCompleted', { activityId: 'w2', output: 2 }],
        ['activityCompleted', { activityId: 'w3', output: 3 }],
        ['activityFailed', { activityId: 'w1', error: { message: 'no' } }],
      ]);
    },
  },
  {
    name: 'a worker ack whose result is an activityResults message (a fan-out batch) delivers it whole, as one message',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a', { workItems: [workItem('a', 'all#1[0..1]')] });
      const [item] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(item);
      const results: Json[] = [
        { kind: 'activityCompleted', payload: { activityId: 'all#1[0]', output: 1 } },
        { kind: 'activityFailed', payload: { activityId: 'all#1[1]', error: { message: 'no' } } },
      ];
      await provider.ackWorkItem(item.lockToken, { instanceId: 'a', executionId: 1, kind: 'activityResults', payload: { results } });
      const { messages } = await fetchOne(provider, 'a');
      assert.equal(messages.map((m) => [m.kind, m.executionId, m.payload]), [['activityResults', 1, { results }]]);
    },
  },
  {
    name: 'an ack that locks its result\'s instance hands out all its fetchable messages exactly once, in order, under a lock that follows all instance rules',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await createInstance(provider, 'a', { workItems: [workItem('a', 'w1')] });
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'EARLIER'));
      const [work] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(work);
      const result = { instanceId: 'a', executionId: 1, kind: 'activityCompleted' as const, payload: { activityId: 'w1', output: 7 } };
      // A provider may decline (null or nothing); then a fetch hands the same messages out.
      const locked = (await provider.ackWorkItem(work.lockToken, result, { lockInstance: { lockMs: 1000, owner: 'me' } })) ?? (await fetchOne(provider, 'a', 1000));
      assert.is(locked.instanceId, 'a');
      assert.equal(locked.messages.map((m) => [m.kind, m.payload]), [['event', { type: 'EARLIER' }], ['activityCompleted', { activityId: 'w1', output: 7 }]]);
      assert.is(locked.attempt, 1);
      assert.is(locked.executionId, 1);
      assert.is(locked.instance?.historyLength, 1, 'the stored instance comes with it');
      assert.is(locked.lockedUntil, locked.now + 1000);
      await fetchNone(provider, 'the locked instance is not fetchable');
      assert.is(await provider.renewOrchestrationLock(locked.lockToken, 1000), (await provider.now()) + 1000, 'renewable like a fetched lock');
      clockOf(ctx).advance(1001);
      const again = await fetchOne(provider, 'a');
      assert.equal([again.messages.length, again.attempt], [2, 2], 'an expired lock is taken over like any other');
      await expectError(provider.ackOrchestrationItem(locked.lockToken, sampleDelta()), LockLostError, 'ack with the expired token');
      await provider.ackOrchestrationItem(again.lockToken, sampleDelta());
      await fetchNone(provider, 'each message consumed once');
    },
  },
  {
    name: 'an ack locks no instance that has other work queued for the execution, is locked by another, or gets a delayed result',
    async run({ put: { provider } }) {
      const ask = { lockInstance: { lockMs: LOCK_MS } };
      const done = (id: string, w: { activityId: string }, visibleAt?: number) => ({
        instanceId: id, executionId: 1, kind: 'activityCompleted' as const, payload: { activityId: w.activityId, output: null }, ...(visibleAt ? { visibleAt } : {}),
      });
      await createInstance(provider, 'busy', { workItems: [workItem('busy', 'w1'), workItem('busy', 'w2', { visibleAt: (await provider.now()) + 60_000 })] });
      const [w1] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(w1);
      assert.is((await provider.ackWorkItem(w1.lockToken, done('busy', w1), ask)) ?? null, null, 'w2 is still queued');
      assert.is((await fetchOne(provider, 'busy')).messages.length, 1, 'the result waits for a fetch');

      await createInstance(provider, 'held', { workItems: [workItem('held', 'w1')] });
      const [h1] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(h1);
      await provider.enqueueOrchestratorMessage(eventMessage('held'));
      const holder = await fetchOne(provider, 'held');
      assert.is((await provider.ackWorkItem(h1.lockToken, done('held', h1), ask)) ?? null, null, 'another holds the lock');
      await provider.ackOrchestrationItem(holder.lockToken, sampleDelta());
      assert.equal(kinds(await fetchOne(provider, 'held')), ['activityCompleted'], 'the result waited for the holder');

      await createInstance(provider, 'late', { workItems: [workItem('late', 'w1')] });
      const [l1] = await provider.fetchWorkItems({ lockMs: LOCK_MS });
      assert.ok(l1);
      assert.is((await provider.ackWorkItem(l1.lockToken, done('late', l1, (await provider.now()) + 60_000), ask)) ?? null, null, 'a delayed result');
    },
  },
  {
    name: 'kept messages are unlocked and left; the others are consumed',
    async run({ put: { provider } }) {
      await createInstance(provider, 'a');
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'USE'));
      await provider.enqueueOrchestratorMessage(eventMessage('a', 'KEEP'));
      const item = await fetchOne(provider, 'a');
      const keep = item.messages.find((m) => (m.payload as { type: string }).type === 'KEEP')!;
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ keepMessageIds: [keep.id] }));
      const next = await fetchOne(provider, 'a');
      assert.equal(next.messages.map((m) => m.id), [keep.id]);
    },
  },
  {
    name: 'an ack that eagerly locks its new work items hands them out exactly once, with attempt 1, and they follow all worker rules',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      const later = (await provider.now()) + 10_000;
      const delta = sampleDelta({ workItems: [workItem('a', 'w1'), workItem('a', 'w2'), workItem('a', 'w3', { visibleAt: later })] });
      // A provider may lock fewer (or none: it returns nothing); never a delayed item, never past max.
      const eager = (await provider.ackOrchestrationItem(item.lockToken, delta, { lockWorkItems: { lockMs: 1000, max: 1, owner: 'me' } })) ?? [];
      assert.ok(eager.length <= 1, 'at most max');
      const fetched = await provider.fetchWorkItems({ lockMs: 1000, max: 10 });
      const all = [...eager, ...fetched];
      assert.equal(all.map((w) => w.activityId).sort(), ['w1', 'w2'], 'each visible item exactly once, the delayed one not yet');
      assert.equal(all.map((w) => w.attempt), [1, 1]);
      for (const w of eager) {
        assert.is(w.activityId, 'w1', 'oldest first');
        assert.is(w.lockedUntil, w.now + 1000);
        assert.equal(w.payload, { activityId: 'w1' });
      }
      const first = all.find((w) => w.activityId === 'w1')!;
      assert.is(await provider.renewWorkItemLock(first.lockToken, 1000), (await provider.now()) + 1000, 'renewable like a fetched item');
      clockOf(ctx).advance(1001);
      const again = await provider.fetchWorkItems({ lockMs: 1000, max: 10 });
      assert.equal(again.map((w) => [w.activityId, w.attempt]).sort(), [['w1', 2], ['w2', 2]], 'an expired eager lock is taken over like any other');
      await expectError(provider.ackWorkItem(first.lockToken, eventMessage('a')), LockLostError, 'ack with the expired eager token');
    },
  },
]);
