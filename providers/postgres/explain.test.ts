import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopTestServer, testServer } from '../../test/db.js';
import { explainHotQueries } from '../../stress/explain-plans.js';
import { explainBatchesOnEmptyPlans } from '../../stress/explain-batches.js';

test.after(async () => {
  await stopTestServer();
});

// stress/explain-plans.ts runs the same checks at 1,000,000 rows per queue.
test('no hot query of the stored functions plans a Seq Scan on a queue table (200,000 rows per queue, messages spread over instances)', async () => {
  const { url } = await testServer();
  const report = await explainHotQueries({ connectionString: url, rows: 200_000, shape: 'spread' });
  const calls = new Set(report.plans.map((p) => p.call));
  for (const call of ['enqueue_orchestrator_messages', 'fetch_orchestration_items', 'ack_orchestration_item', 'ack_orchestration_items', 'fetch_work_items', 'ack_work_item', 'ack_work_items', 'renew_orchestration_lock']) {
    assert.ok(calls.has(call), `plans of ${call} were captured`);
  }
  assert.ok(report.plans.some((p) => /Index Scan using orchestrator_queue_fetch/.test(p.plan)), 'the fetch uses its (visible_at, id) index');
  assert.ok(report.plans.some((p) => /Index Scan using worker_queue_fetch/.test(p.plan)), 'the worker fetch uses its partial index');
  assert.equal(report.seqScans, []);
  assert.equal(report.largeScans, []);
});

test('with most of the queue being future timers of a few instances, no hot statement walks an index (200,000 rows per queue)', async () => {
  const { url } = await testServer();
  const report = await explainHotQueries({ connectionString: url, rows: 200_000, shape: 'timers' });
  assert.ok(report.plans.some((p) => p.call === 'ack_orchestration_items' && p.mode === 'force_generic_plan'), 'the group ack ran with generic plans');
  assert.equal(report.seqScans, []);
  assert.equal(report.largeScans, []);
});

test('plans cached while the queues are empty stay linear in the batch: no node of a 200-item fetch or group ack reads 2,000 rows', async () => {
  const { url } = await testServer();
  const report = await explainBatchesOnEmptyPlans({ connectionString: url, batch: 200 });
  const calls = new Set(report.plans.map((p) => p.call));
  for (const call of ['enqueue_orchestrator_messages', 'fetch_orchestration_items', 'ack_orchestration_items', 'fetch_work_items', 'ack_work_items']) {
    assert.ok(calls.has(call), `plans of ${call} were captured`);
  }
  assert.equal(report.largeScans, []);
});

test.run();
