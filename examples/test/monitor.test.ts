/** The eternal monitor on PostgreSQL: each check is one execution; continue-as-new carries the counts and restarts history. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { activities, orchestrations, runMonitor } from '../monitor.js';
import { historyOf, openExampleUnderTest, type ExampleUnderTest } from './support.js';

let ex: ExampleUnderTest;
test.before(async () => {
  ex = await openExampleUnderTest({ orchestrations, activities });
});
test.after(() => ex.close());

test('K checks run as K executions of one instance, carrying their counts forward', async () => {
  const final = await runMonitor(ex.client, 'db-1', { maxChecks: 4, intervalMs: 10 });
  assert.is(final.status, 'completed');
  assert.is(final.executionId, 4);
  // Checks 0..3; every third one (check 2) is unhealthy.
  assert.equal(final.output, { target: 'db-1', checks: 4, healthyChecks: 3 });
});

test('each execution has a short history of its own; the earlier ones ended by continuing as new', async () => {
  const final = await runMonitor(ex.client, 'db-2', { maxChecks: 3, intervalMs: 10 });
  for (let execution = 1; execution <= 3; execution++) {
    const types = (await historyOf(ex.client, final.instanceId, execution)).map((e) => e.type);
    assert.is(types[0], 'started', `execution ${execution} starts afresh`);
    assert.ok(types.length < 12, `execution ${execution} history stays short (${types.length})`);
    assert.is(types.at(-1), execution < 3 ? 'continuedAsNew' : 'completed');
  }
});

test.run();
