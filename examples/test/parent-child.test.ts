/** Parent/child on PostgreSQL: the loan application decides on the output of its credit-check child instance. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activities, applyForLoan, orchestrations } from '../parent-child.js';
import { openExampleUnderTest, scheduledActivities, historyOf, type ExampleUnderTest } from './support.js';

let ex: ExampleUnderTest;
test.before(async () => {
  ex = await openExampleUnderTest({ orchestrations, activities });
});
test.after(() => ex.close());

test('a good score from the child approves the loan and opens the account', async () => {
  const final = await applyForLoan(ex.client, { applicationId: 'a1', customerId: 'alice', amount: 5_000 });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { applicationId: 'a1', decision: 'approved', score: 660, accountId: 'loan-a1' });
  const children = (await ex.client.list({ parentInstanceId: final.instanceId })).items;
  assert.is(children.length, 1);
  assert.is(children[0]?.name, 'credit-check');
  assert.is(children[0]?.status, 'completed');
  assert.equal(children[0]?.output, { score: 660, approved: true });
  assert.equal(scheduledActivities(await historyOf(ex.client, children[0]!.instanceId)), ['loan.fetchCreditScore'], 'the child ran its own activity');
});

test('the same score is not enough for a big loan: declined, no account opened', async () => {
  const final = await applyForLoan(ex.client, { applicationId: 'a2', customerId: 'alice', amount: 20_000 });
  assert.equal(final.output, { applicationId: 'a2', decision: 'declined', score: 660, accountId: null });
  assert.equal(scheduledActivities(await historyOf(ex.client, final.instanceId)), [], 'the parent itself scheduled no activity');
});

test.run();
