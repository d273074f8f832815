/**
 * Waiting for benchmark instances: the hook that stops a benchmark's CPU meter runs once, when the
 * queues are first empty and before the instances are listed (the listing is not the work measured).
 * The provider here is a stand-in that answers only the two calls the wait makes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { InstanceRecord, Provider, QueueDepths } from '../../runtime/index.js';
import { waitAllCompleted } from '../bench/completion.js';

const depths = (locked: number): QueueDepths => ({ orchestrator: { visible: 0, delayed: 0, locked }, worker: { visible: 0, delayed: 0, locked: 0 }, deadLetters: 0 });
const record = (instanceId: string, status: InstanceRecord['status']) => ({ instanceId, status }) as InstanceRecord;

function scripted(busyPolls: number, lists: InstanceRecord[][], calls: string[]): Provider {
  let polls = 0;
  let listed = 0;
  return {
    async queueDepths() {
      calls.push('depths');
      return depths(polls++ < busyPolls ? 1 : 0);
    },
    async listInstances() {
      calls.push('list');
      return { items: lists[Math.min(listed++, lists.length - 1)]!, nextCursor: null };
    },
  } as unknown as Provider;
}

test('whenIdle runs once, after the queues empty and before the first listing, even when the wait goes on', async () => {
  const calls: string[] = [];
  const provider = scripted(1, [[record('a', 'running')], [record('a', 'completed')]], calls);
  const done = await waitAllCompleted(provider, 1, 5_000, async () => calls.push('idle'));
  assert.equal(done.map((r) => r.instanceId), ['a']);
  assert.equal(calls, ['depths', 'depths', 'idle', 'list', 'depths', 'list']);
});

test('a failed instance ends the wait with an error', async () => {
  const provider = scripted(0, [[record('a', 'failed')]], []);
  try {
    await waitAllCompleted(provider, 1, 5_000);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.match((err as Error).message, 'did not complete');
  }
});

test.run();
