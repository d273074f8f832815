/** The order saga on PostgreSQL: a failing step compensates exactly the steps already done, in reverse order. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activities, orchestrations, placeOrder } from '../order-saga.js';
import { historyOf, openExampleUnderTest, scheduledActivities, type ExampleUnderTest } from './support.js';

let ex: ExampleUnderTest;
test.before(async () => {
  ex = await openExampleUnderTest({ orchestrations, activities });
});
test.after(() => ex.close());

test('an order that succeeds is charged, reserved and shipped, with nothing compensated', async () => {
  const final = await placeOrder(ex.client, { orderId: 'ok', amount: 120, quantity: 2, address: '1 Main St' });
  assert.is(final.status, 'completed');
  assert.equal(final.output, { orderId: 'ok', outcome: 'shipped', trackingId: 'track-ok', compensations: [], error: null });
  assert.equal(scheduledActivities(await historyOf(ex.client, final.instanceId)), ['order.chargeCard', 'order.reserveStock', 'order.shipOrder']);
});

test('a failed shipment releases the stock, then refunds the card', async () => {
  const final = await placeOrder(ex.client, { orderId: 'noaddr', amount: 80, quantity: 1, address: '' });
  assert.is(final.status, 'completed', 'a compensated saga is a handled outcome, not a failed instance');
  assert.is(final.output?.outcome, 'compensated');
  assert.equal(final.output?.compensations, ['releaseStock', 'refundCard']);
  assert.is(final.output?.error, 'cannot ship without an address');
  assert.equal(scheduledActivities(await historyOf(ex.client, final.instanceId)), [
    'order.chargeCard', 'order.reserveStock', 'order.shipOrder', 'order.releaseStock', 'order.refundCard',
  ]);
});

test('a failed reservation refunds the card only', async () => {
  const final = await placeOrder(ex.client, { orderId: 'toomany', amount: 80, quantity: 99, address: '1 Main St' });
  assert.is(final.output?.outcome, 'compensated');
  assert.equal(final.output?.compensations, ['refundCard']);
  assert.equal(scheduledActivities(await historyOf(ex.client, final.instanceId)), ['order.chargeCard', 'order.reserveStock', 'order.refundCard']);
});

test('a declined charge ends the order with nothing to compensate', async () => {
  const final = await placeOrder(ex.client, { orderId: 'rich', amount: 5000, quantity: 1, address: '1 Main St' });
  assert.is(final.output?.outcome, 'declined');
  assert.equal(final.output?.compensations, []);
  assert.match(final.output?.error ?? '', /declined/);
  assert.equal(scheduledActivities(await historyOf(ex.client, final.instanceId)), ['order.chargeCard']);
});

test.run();
