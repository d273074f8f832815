/**
 * Long-polling (`waitMs`). Decision: `waitMs` is REAL elapsed time, while visibility and locks follow
 * the provider clock (injected or not). So these cases sleep for real (briefly) and assert only
 * "returned before the deadline + generous slack", plus "did not return [] before the deadline"
 * (a lower bound cannot flake under load).
 */
import { getEventListeners } from 'node:events';
import * as assert from 'uvu/assert';
import type { Provider } from '../../providers/contract.js';
import {
  LOCK_MS, clockOf, createInstance, eventMessage, fetchOne, inCategory, sampleDelta, sleep, startMessage, workItem,
} from './helpers.js';

/** Far below the long waits used, far above any reasonable wake-up latency. */
const SLACK_MS = 2500;
const LONG_WAIT_MS = 8000;

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

function longFetch(provider: Provider, waitMs = LONG_WAIT_MS, signal?: AbortSignal) {
  return timed(provider.fetchOrchestrationItems({ lockMs: LOCK_MS, waitMs, ...(signal ? { signal } : {}) }));
}

function assertEarly(ms: number): void {
  assert.ok(ms < LONG_WAIT_MS - SLACK_MS, `returned after ${ms} ms: it should wake on new work, not at the ${LONG_WAIT_MS} ms deadline`);
}

export const longPollingCases = inCategory('long-polling', [
  {
    name: 'a waiting fetch returns early when a message is enqueued',
    async run({ put: { provider } }) {
      const waiting = longFetch(provider);
      await sleep(100);
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const { value, ms } = await waiting;
      assert.equal(value.map((i) => i.instanceId), ['a']);
      assertEarly(ms);
    },
  },
  {
    name: 'a waiting fetch returns [] at the deadline, not before and not long after',
    async run({ put: { provider } }) {
      const { value, ms } = await longFetch(provider, 400);
      assert.equal(value, []);
      assert.ok(ms >= 380, `returned after ${ms} ms, before the 400 ms deadline`);
      assert.ok(ms < 400 + SLACK_MS, `returned after ${ms} ms, far beyond the 400 ms deadline`);
    },
  },
  {
    name: 'a waiting work fetch returns early when an ack queues a work item',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const waiting = timed(provider.fetchWorkItems({ lockMs: LOCK_MS, waitMs: LONG_WAIT_MS }));
      await sleep(100);
      const item = await fetchOne(provider, 'a');
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ workItems: [workItem('a', 'act')] }));
      const { value, ms } = await waiting;
      assert.equal(value.map((w) => w.activityId), ['act']);
      assertEarly(ms);
    },
  },
  {
    name: 'a waiting fetch returns early when an abandon releases an instance',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const held = await fetchOne(provider, 'a');
      const waiting = longFetch(provider);
      await sleep(100);
      await provider.abandonOrchestrationItem(held.lockToken);
      const { value, ms } = await waiting;
      assert.equal(value.map((i) => i.instanceId), ['a']);
      assertEarly(ms);
    },
  },
  {
    name: 'a waiting fetch returns an abandoned instance once its delay has passed',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      await provider.abandonOrchestrationItem((await fetchOne(provider, 'a')).lockToken, { delayMs: 300 });
      const waiting = longFetch(provider);
      await sleep(100);
      clockOf(ctx).advance(300); // the delay is over by the provider clock; no write announces it
      const { value, ms } = await waiting;
      assert.equal(value.map((i) => i.instanceId), ['a']);
      assertEarly(ms);
    },
  },
  {
    name: 'a waiting fetch returns early when an ack sends a message to another instance',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const item = await fetchOne(provider, 'a');
      const waiting = longFetch(provider);
      await sleep(100);
      await provider.ackOrchestrationItem(item.lockToken, sampleDelta({ messages: [eventMessage('b')] }));
      const { value, ms } = await waiting;
      assert.equal(value.map((i) => i.instanceId), ['b']);
      assertEarly(ms);
    },
  },
  {
    name: 'aborting the signal ends a long-poll early with []',
    async run({ put: { provider } }) {
      const controller = new AbortController();
      const waiting = longFetch(provider, LONG_WAIT_MS, controller.signal);
      await sleep(100);
      controller.abort();
      const { value, ms } = await waiting;
      assert.equal(value, []);
      assertEarly(ms);
    },
  },
  {
    name: 'long-polls sharing one signal that never fires leave no listener on it, however each ended',
    async run({ put: { provider } }) {
      // A dispatcher passes one signal to every fetch for its whole life: a wait that kept its
      // listener (relying on { once: true }, which only helps if the signal fires) would pile them up.
      const { signal } = new AbortController();
      const listeners = () => getEventListeners(signal, 'abort').length;
      for (let i = 0; i < 20; i++) {
        await provider.fetchOrchestrationItems({ lockMs: LOCK_MS, waitMs: 5, signal }); // ended by the deadline
        await provider.fetchWorkItems({ lockMs: LOCK_MS, waitMs: 5, signal });
      }
      assert.is(listeners(), 0, 'after waits that ended at their deadline');
      for (let i = 0; i < 12; i++) {
        const waiting = provider.fetchOrchestrationItems({ lockMs: LOCK_MS, waitMs: LONG_WAIT_MS, signal });
        await provider.enqueueOrchestratorMessage(startMessage(`i${i}`)); // ends the wait with work
        assert.equal((await waiting).map((item) => item.instanceId), [`i${i}`]);
      }
      assert.is(listeners(), 0, 'after waits that ended with work');
    },
  },
  {
    name: 'an already aborted signal returns [] and locks nothing',
    async run({ put: { provider } }) {
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const controller = new AbortController();
      controller.abort();
      const { value, ms } = await longFetch(provider, LONG_WAIT_MS, controller.signal);
      assert.equal(value, []);
      assertEarly(ms);
      await fetchOne(provider, 'a');
    },
  },
  {
    name: 'of two waiting fetchers one gets the new work, the other waits to its deadline',
    async run({ put: { provider } }) {
      const first = longFetch(provider, 1000);
      const second = longFetch(provider, 1000);
      await sleep(100);
      await provider.enqueueOrchestratorMessage(startMessage('a'));
      const results = await Promise.all([first, second]);
      const got = results.flatMap((r) => r.value.map((i) => i.instanceId));
      assert.equal(got, ['a'], 'exactly one fetcher got the instance');
      const empty = results.find((r) => r.value.length === 0)!;
      assert.ok(empty.ms >= 950 && empty.ms < 1000 + SLACK_MS, `the other returned after ${empty.ms} ms`);
    },
  },
  {
    name: 'a waiting fetch returns a delayed message once it becomes due',
    needsClock: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await createInstance(provider, 'a', { messages: [{ ...eventMessage('a', 'LATER'), visibleAt: clock.now() + 300 }] });
      const waiting = longFetch(provider);
      await sleep(100);
      clock.advance(300); // due by the provider clock now; no write announces it
      const { value, ms } = await waiting;
      assert.equal(value.map((i) => i.messages.map((m) => m.payload)), [[{ type: 'LATER' }]]);
      assertEarly(ms);
    },
  },
]);
