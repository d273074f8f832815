import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { ManualClock } from '../clock.js';
import { OutcomeUnknownError } from '../errors.js';
import { stopTestServer } from '../../test/db.js';
import { eventMessage, historyEvents, sampleDelta, startMessage, workItem } from '../../validation/conformance/helpers.js';
import { channelName, parseQueuePayload } from './notifier.js';
import { dumpTables, NEVER, postgresTestBed, truncateAll, type PostgresTestBed } from './test-support.js';

const test = suite<{ bed: PostgresTestBed }>('postgres long-poll and faults');


test.before(async (ctx) => {
  ctx.bed = await postgresTestBed('poll');
});
test.before.each(async (ctx) => {
  await truncateAll(ctx.bed.url, ctx.bed.schema);
});
test.after.each(async (ctx) => {
  await ctx.bed.closeProviders();
});
test.after(async (ctx) => {
  await ctx.bed.close();
  await stopTestServer();
});

test('a NOTIFY from an enqueue on another connection wakes a waiting fetcher', async ({ bed }) => {
  const fetcher = await bed.open({ pollIntervalMs: NEVER, safetyIntervalMs: NEVER });
  const sender = await bed.open({ listen: false });
  const waiting = fetcher.fetchOrchestrationItems({ lockMs: 1000, waitMs: 30_000 });
  await new Promise((r) => setTimeout(r, 50)); // let the first (empty) fetch happen
  await sender.enqueueOrchestratorMessage(startMessage('a'));
  const items = await waiting;
  assert.equal(items.map((i) => i.instanceId), ['a']);
  assert.ok(fetcher.notifier.wakes.notify >= 1, 'woken by the notification');
  assert.is(fetcher.notifier.wakes.timeout, 0);
});

test('queue notifications carry the database clock, which tells due work from future work', async ({ bed }) => {
  const listener = new pg.Client({ connectionString: bed.url });
  await listener.connect();
  try {
    const payloads: string[] = [];
    let heard = (): void => {};
    listener.on('notification', (msg) => {
      payloads.push(msg.payload ?? '');
      heard();
    });
    await listener.query(`LISTEN "${channelName(bed.schema, 'orchestrator')}"`);
    const sender = await bed.open({ listen: false });
    const arrived = (): Promise<void> => new Promise((resolve) => (heard = resolve));
    let next = arrived();
    await sender.enqueueOrchestratorMessage(startMessage('a'));
    await next;
    next = arrived();
    await sender.enqueueOrchestratorMessage(eventMessage('a'), { visibleAt: (await sender.now()) + 60_000 });
    await next;
    const [due, future] = payloads.map((p) => parseQueuePayload(p));
    assert.ok(due && due.databaseNow !== null && due.at <= due.databaseNow, `due: ${payloads[0]}`);
    assert.ok(future && future.databaseNow !== null && future.at > future.databaseNow, `future: ${payloads[1]}`);
  } finally {
    await listener.end();
  }
});

test('delayed visibility: not fetched before visibleAt; a fetcher already waiting is woken by the timer', async ({ bed }) => {
  const fetcher = await bed.open({ pollIntervalMs: NEVER, safetyIntervalMs: NEVER });
  const sender = await bed.open({ listen: false });
  const visibleAt = (await sender.now()) + 400;
  await sender.enqueueOrchestratorMessage(startMessage('a'), { visibleAt });
  assert.equal(await fetcher.fetchOrchestrationItems({ lockMs: 1000 }), [], 'not visible yet');
  const waiting = fetcher.fetchOrchestrationItems({ lockMs: 1000, waitMs: 30_000 });
  await new Promise((r) => setTimeout(r, 50));
  // A second delayed message announces the due time to the waiting fetcher's notifier.
  await sender.enqueueOrchestratorMessage(eventMessage('a'), { visibleAt });
  const items = await waiting;
  assert.equal(items.map((i) => i.messages.map((m) => m.kind)), [['start', 'event']]);
  assert.ok(items[0]!.now >= visibleAt, 'fetched at or after visibleAt by the provider clock');
  assert.ok(fetcher.notifier.wakes.timer >= 1, 'the timer woke it');
  assert.is(fetcher.notifier.wakes.timeout, 0);
});

test('polling alone (listen: false) finds work', async ({ bed }) => {
  const fetcher = await bed.open({ listen: false, pollIntervalMs: 30 });
  const sender = await bed.open({ listen: false });
  const waiting = fetcher.fetchWorkItems({ lockMs: 1000, waitMs: 30_000 });
  await sender.enqueueOrchestratorMessage(startMessage('a'));
  const [turn] = await sender.fetchOrchestrationItems({ lockMs: 1000 });
  await sender.ackOrchestrationItem(turn!.lockToken, sampleDelta({ workItems: [workItem('a', 'w')] }));
  assert.equal((await waiting).map((w) => w.activityId), ['w']);
  assert.ok(fetcher.notifier.wakes.poll >= 1);
  assert.is(fetcher.notifier.wakes.notify, 0);
});

test('faults.disableNotifications(): long-polls still find work by polling', async ({ bed }) => {
  const fetcher = await bed.open({ pollIntervalMs: 30, safetyIntervalMs: NEVER });
  const sender = await bed.open({ listen: false });
  fetcher.faults.disableNotifications();
  const waiting = fetcher.fetchOrchestrationItems({ lockMs: 1000, waitMs: 30_000 });
  await new Promise((r) => setTimeout(r, 50)); // let the first (empty) fetch happen: only a poll may find the start
  await sender.enqueueOrchestratorMessage(startMessage('a'));
  assert.equal((await waiting).map((i) => i.instanceId), ['a']);
  assert.ok(fetcher.notifier.wakes.poll >= 1);
  assert.is(fetcher.notifier.wakes.notify, 0);
});

test('a long-poll ends empty at its deadline, and at once when aborted', async ({ bed }) => {
  const fetcher = await bed.open({ pollIntervalMs: NEVER, safetyIntervalMs: NEVER });
  assert.equal(await fetcher.fetchOrchestrationItems({ lockMs: 1000, waitMs: 100 }), []);
  assert.ok(fetcher.notifier.wakes.timeout >= 1);
  const controller = new AbortController();
  const waiting = fetcher.fetchWorkItems({ lockMs: 1000, waitMs: 60_000, signal: controller.signal });
  controller.abort();
  assert.equal(await waiting, []);
  assert.ok(fetcher.notifier.wakes.abort >= 1);
});

test('with an injected clock that does not move, a long-poll still ends (the deadline is real time)', async ({ bed }) => {
  const fetcher = await bed.open({ clock: new ManualClock(), listen: false, pollIntervalMs: 20 });
  assert.equal(await fetcher.fetchOrchestrationItems({ lockMs: 1000, waitMs: 100 }), []);
});

test('an ack that releases a lock wakes fetchers for messages that arrived meanwhile', async ({ bed }) => {
  const holder = await bed.open({ listen: false });
  const fetcher = await bed.open({ pollIntervalMs: NEVER, safetyIntervalMs: NEVER });
  await holder.enqueueOrchestratorMessage(startMessage('a'));
  const [item] = await holder.fetchOrchestrationItems({ lockMs: 60_000 });
  await holder.enqueueOrchestratorMessage(eventMessage('a', 'LATE'));
  const waiting = fetcher.fetchOrchestrationItems({ lockMs: 1000, waitMs: 30_000 });
  await new Promise((r) => setTimeout(r, 50));
  await holder.ackOrchestrationItem(item!.lockToken, sampleDelta({ history: historyEvents(1, 0, 1) }));
  assert.equal((await waiting).map((i) => i.messages.map((m) => m.kind)), [['event']]);
});

test('faults.dropConnectionDuringNextAck(): the ack happened entirely or not at all', async ({ bed }) => {
  const p = await bed.open({ listen: false });
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const [item] = await p.fetchOrchestrationItems({ lockMs: 60_000 });
  const before = await dumpTables(bed.url, bed.schema);
  p.faults.dropConnectionDuringNextAck();
  let outcome: 'committed' | 'unknown' = 'committed';
  try {
    await p.ackOrchestrationItem(item!.lockToken, sampleDelta({ history: historyEvents(1, 0, 3), workItems: [workItem('a', 'w')] }));
  } catch (err) {
    assert.instance(err, OutcomeUnknownError);
    outcome = 'unknown';
  }
  const after = await dumpTables(bed.url, bed.schema);
  const record = await p.getInstance('a'); // the provider still works after losing a connection
  if (record === null) {
    assert.is(outcome, 'unknown', 'a reported success must have committed');
    assert.equal(after, before, 'not at all');
  } else {
    assert.equal([after.history!.length, after.worker_queue!.length, after.orchestrator_queue!.length, after.instance_locks!.length], [3, 1, 0, 0], 'entirely');
  }
});

test('faults.setQueryDelay() slows calls down without changing their results', async ({ bed }) => {
  const p = await bed.open({ listen: false });
  p.faults.setQueryDelay(20);
  await p.enqueueOrchestratorMessage(startMessage('a'));
  assert.equal((await p.fetchOrchestrationItems({ lockMs: 1000 })).map((i) => i.instanceId), ['a']);
  p.faults.setQueryDelay(0);
});

test.run();
