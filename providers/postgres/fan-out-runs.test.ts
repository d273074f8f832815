/**
 * A turn's fan-out elements travel to the server as runs (wire.ts, migration 016) and must be queued
 * exactly as the items they stand for, sent one by one, would be: same ids order, activity ids,
 * payloads and visibility, on the batched path and on the one-by-one path alike, and eager locking
 * must take the same ones.
 */
import * as assert from 'uvu/assert';
import type { Json } from '../types.js';
import type { WorkItemInput } from '../contract.js';
import { deltaArgs, checkedJson } from '../arguments.js';
import { fetchOne, historyEvents, sampleDelta, startMessage } from '../../validation/conformance/helpers.js';
import { sql } from '../../test/db.js';
import { providerSuite } from './test-support.js';
import { workItemsWire } from './wire.js';

const test = providerSuite('postgres fan-out runs', 'runs');

const options: { [key: string]: Json } = { retry: { maxAttempts: 4 }, timeoutMs: 70 };
const element = (instanceId: string, prefix: string, index: number, input: Json, visibleAt?: number): WorkItemInput => ({
  instanceId, executionId: 1, activityId: `${prefix}[${index}]`, name: 'work', payload: { input, ...options }, ...(visibleAt === undefined ? {} : { visibleAt }),
});

/** Three runs around plain items, one of them due later, one as the engine writes them ({ input }): what a turn that fans out three times queues. */
function items(instanceId: string, now: number): WorkItemInput[] {
  return [
    { instanceId, executionId: 1, activityId: 'solo', name: 'other', payload: { n: 1 } },
    ...['a', null, { deep: [1, { x: 'y' }] }, 3].map((input, i) => element(instanceId, 'f#1', i, input)),
    { instanceId, executionId: 1, activityId: 'f#1[9]', name: 'work', payload: { input: 'no options' } },
    ...[10, 11, 12].map((input, i) => element(instanceId, 'g#2', i + 5, input, now + 1000)),
    ...['p', 'q'].map((input, i) => ({ instanceId, executionId: 1, activityId: `h#3[${i}]`, name: 'work', payload: { input } })),
  ];
}

/** The queued rows in id order, as the items they were queued from. */
async function queued(url: string, schema: string, instanceId: string): Promise<WorkItemInput[]> {
  const rows = await sql<{ r: WorkItemInput & { visibleAt: number; enqueuedAt: number } }>(url, `
    SELECT jsonb_build_object('instanceId', instance_id, 'executionId', execution_id, 'activityId', activity_id, 'name', name,
                              'payload', payload, 'visibleAt', visible_at, 'enqueuedAt', enqueued_at) AS r
    FROM "${schema}".worker_queue WHERE instance_id = $1 ORDER BY id`, [instanceId]);
  return rows.map(({ r }) => {
    const { visibleAt, enqueuedAt, ...item } = r;
    return visibleAt === enqueuedAt ? item : { ...item, visibleAt };
  });
}

test('the wire of these items holds runs (else the tests below would not reach the run path)', () => {
  const wire = workItemsWire(deltaArgs(sampleDelta({ workItems: items('a', 0) }), checkedJson).workItems);
  assert.equal(wire.map((w) => ('inputs' in w ? `run ${w.prefix}[${w.first}] x${w.inputs.length}` : `item ${w.activityId}`)),
    ['item solo', 'run f#1[0] x4', 'item f#1[9]', 'run g#2[5] x3', 'run h#3[0] x2']);
});

test('a batched ack queues runs as the items they stand for, in order', async ({ bed, clock, p }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const item = await fetchOne(p, 'a');
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1, 'started'), workItems: items('a', clock.now()) }));
  assert.equal(await queued(bed.url, bed.schema, 'a'), items('a', clock.now()));
});

test('the one-by-one ack (a kept message) queues them the same', async ({ bed, clock, p }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  await p.enqueueOrchestratorMessage({ instanceId: 'a', kind: 'event', payload: { type: 'later' } });
  const item = await fetchOne(p, 'a');
  const kept = item.messages.find((m) => m.kind === 'event')!;
  await p.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1, 'started'), workItems: items('a', clock.now()), keepMessageIds: [kept.id] }));
  assert.equal(await queued(bed.url, bed.schema, 'a'), items('a', clock.now()));
  assert.is((await p.queueDepths()).orchestrator.visible, 1, 'the kept message went back');
});

test('eager locking takes the first visible items, run elements included, in order', async ({ clock, p }) => {
  await p.enqueueOrchestratorMessage(startMessage('a'));
  const item = await fetchOne(p, 'a');
  const taken = await p.ackOrchestrationItem(item.lockToken, sampleDelta({ history: historyEvents(1, 0, 1, 'started'), workItems: items('a', clock.now()) }),
    { lockWorkItems: { lockMs: 60_000, max: 7 } });
  assert.equal((taken ?? []).map((w) => [w.activityId, w.payload]), [
    ['solo', { n: 1 }],
    ['f#1[0]', { input: 'a', ...options }], ['f#1[1]', { input: null, ...options }],
    ['f#1[2]', { input: { deep: [1, { x: 'y' }] }, ...options }], ['f#1[3]', { input: 3, ...options }],
    ['f#1[9]', { input: 'no options' }], ['h#3[0]', { input: 'p' }],
  ], 'the first seven visible now; g#2 is due later');
  clock.advance(1000);
  const later = await p.fetchWorkItems({ lockMs: 1000, max: 10 });
  assert.equal(later.map((w) => [w.activityId, w.payload]), [
    ['h#3[1]', { input: 'q' }],
    ...[10, 11, 12].map((input, i) => [`g#2[${i + 5}]`, { input, ...options }]),
  ], 'the one left free, then those due later');
});

test.run();
