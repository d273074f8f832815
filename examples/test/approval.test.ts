/** The approval race on PostgreSQL: the event wins and cancels the timer, or the timer wins. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activities, orchestrations, requestApproval } from '../approval.js';
import { commandTypes, historyOf, openExampleUnderTest, type ExampleUnderTest } from './support.js';

let ex: ExampleUnderTest;
test.before(async () => {
  ex = await openExampleUnderTest({ orchestrations, activities });
});
test.after(() => ex.close());

test('the event wins: APPROVE before the deadline decides, and the timer is cancelled', async () => {
  const final = await requestApproval(ex.client, { requestId: 'fast', amount: 500, timeoutMs: 60_000 }, { type: 'APPROVE', by: 'alice' });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { requestId: 'fast', decision: 'approved', by: 'alice' });
  const commands = commandTypes(await historyOf(ex.client, final.instanceId));
  assert.ok(commands.includes('createTimer'));
  assert.ok(commands.includes('cancelTimer'), 'the deadline timer was cancelled when the event won');
});

test('a REJECT decides as well', async () => {
  const final = await requestApproval(ex.client, { requestId: 'no', amount: 500, timeoutMs: 60_000 }, { type: 'REJECT', by: 'bob', reason: 'too much' });
  assert.equal(final.output, { requestId: 'no', decision: 'rejected', by: 'bob' });
});

test('the timer wins: without an answer the request times out', async () => {
  const final = await requestApproval(ex.client, { requestId: 'slow', amount: 500, timeoutMs: 50 });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { requestId: 'slow', decision: 'timed-out', by: null });
  const history = await historyOf(ex.client, final.instanceId);
  assert.ok(history.some((e) => e.type === 'event' && (e.data as { kind?: string }).kind === 'timerFired'), 'the durable timer fired');
});

test.run();
