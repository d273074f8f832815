/**
 * `npm start`: every example end to end on a real PostgreSQL (DATABASE_URL, else the embedded
 * server in .durastate/pgdata, started and stopped here). One runtime runs them all; the demo
 * starts one instance of each, answers the approval, waits for every instance and prints a summary.
 * `--schema NAME` runs it in another schema than the default `durastate` (the test uses a fresh one).
 */
import { parseArgs } from 'node:util';
import type { Client, InstanceStatusView } from '../runtime/index.js';
import { activities, orchestrations } from './all.js';
import { requestApproval } from './approval.js';
import { quoteBasket } from './fan-out.js';
import { runMonitor } from './monitor.js';
import { placeOrder } from './order-saga.js';
import { applyForLoan } from './parent-child.js';
import { elapsedMs, historyLength } from './support/describe.js';
import { openExampleSession } from './support/session.js';

type Finished = InstanceStatusView<unknown, unknown>;

async function runAll(client: Client): Promise<Array<[string, Finished]>> {
  const run = Date.now().toString(36); // instance ids are unique per database: fresh ones each run
  // All started at once: one runtime interleaves their turns and activities.
  const runs: Array<[string, Promise<Finished>]> = [
    ['order saga', placeOrder(client, { orderId: `demo-${run}`, amount: 120, quantity: 2, address: '1 Main St' })],
    ['order saga, compensated', placeOrder(client, { orderId: `demo-noaddr-${run}`, amount: 80, quantity: 1, address: '' })],
    ['approval (APPROVE raised)', requestApproval(client, { requestId: `demo-${run}`, amount: 500, timeoutMs: 60_000 }, { type: 'APPROVE', by: 'demo' })],
    ['fan-out/fan-in', quoteBasket(client, { skus: ['apple', 'bread', 'cheese', 'dates', 'eggs'] })],
    ['monitor (continue-as-new)', runMonitor(client, 'https://example.com/health', { maxChecks: 3, intervalMs: 200 })],
    ['parent/child', applyForLoan(client, { applicationId: `demo-${run}`, customerId: 'c-42', amount: 5_000 })],
  ];
  return Promise.all(runs.map(async ([label, finished]) => [label, await finished] as [string, Finished]));
}

async function printSummary(client: Client, results: Array<[string, Finished]>): Promise<void> {
  for (const [label, status] of results) {
    console.log(`\n${label}`);
    console.log(`  instance  ${status.instanceId} (${status.name})`);
    console.log(`  status    ${status.status}, execution ${status.executionId}, ${elapsedMs(status)} ms`);
    console.log(`  history   ${await historyLength(client, status)} events`);
    console.log(`  output    ${JSON.stringify(status.output)}`);
    if (status.error) console.log(`  error     ${status.error.code ?? status.error.name}: ${status.error.message}`);
  }
}

const started = Date.now();
const { values: args } = parseArgs({ options: { schema: { type: 'string' } } });
const session = await openExampleSession({ orchestrations, activities }, { schema: args.schema });
console.log(`durastate demo on PostgreSQL from ${session.source}: ${orchestrations.length} orchestrations, ${activities.length} activities registered`);
try {
  const results = await runAll(session.client);
  await printSummary(session.client, results);
  const failed = results.filter(([, s]) => s.status !== 'completed');
  console.log(`\n${results.length - failed.length} of ${results.length} instances completed in ${Date.now() - started} ms`);
  if (failed.length > 0) process.exitCode = 1;
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await session.close();
}
