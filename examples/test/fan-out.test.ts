/** Fan-out/fan-in on PostgreSQL: all activities are scheduled in one turn and the results combine in input order. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activities, orchestrations, priceCents, quoteBasket } from '../fan-out.js';
import { commandTypes, historyOf, openExampleUnderTest, type ExampleUnderTest } from './support.js';

let ex: ExampleUnderTest;
test.before(async () => {
  ex = await openExampleUnderTest({ orchestrations, activities });
});
test.after(() => ex.close());

const skus = ['apple', 'bread', 'cheese', 'dates', 'eggs', 'figs', 'grapes', 'honey'];

test('every item is quoted by its own activity, scheduled together, and combined in input order', async () => {
  const final = await quoteBasket(ex.client, { skus });
  assert.is(final.status, 'completed');
  const expected = skus.map((sku) => ({ sku, cents: priceCents(sku) }));
  assert.equal(final.output?.quotes, expected);
  assert.is(final.output?.totalCents, expected.reduce((sum, q) => sum + q.cents, 0));
  const history = await historyOf(ex.client, final.instanceId);
  const firstResult = history.findIndex((e) => e.type === 'event');
  assert.equal(commandTypes(history.slice(0, firstResult)), ['scheduleFanOut'], 'all fanned out before any result came back');
  const scheduled = history[firstResult - 1]!.data as { inputs: Array<{ sku: string }> };
  assert.equal(scheduled.inputs.map((i) => i.sku), skus, 'one command carries every input, in order');
  assert.is(history.filter((e) => (e.data as { kind?: string }).kind === 'activityCompleted').length, skus.length);
});

test('an empty basket completes at once with nothing scheduled', async () => {
  const final = await quoteBasket(ex.client, { skus: [] });
  assert.equal(final.output, { quotes: [], totalCents: 0 });
  assert.equal(commandTypes(await historyOf(ex.client, final.instanceId)), []);
});

test.run();
