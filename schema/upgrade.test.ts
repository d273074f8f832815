/**
 * Upgrading a schema in use: migrations that change how the queues are read must keep working for
 * what was handed out before them (dispatchers keep running while a new version migrates).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { migrate } from './migrate.js';
import { openPostgresProvider } from '../providers/postgres/index.js';
import { historyEvents, sampleDelta } from '../validation/conformance/helpers.js';
import { sql, stopTestServer, testSchema } from '../test/db.js';

test.after(async () => {
  await stopTestServer();
});

test('a batch handed out before 006 (messages marked by token, found through the token index) is acked after it: exactly its messages are consumed', async () => {
  const { url, schema, drop } = await testSchema('upg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let provider: Awaited<ReturnType<typeof openPostgresProvider>> | undefined;
  try {
    await migrate({ connectionString: url, schema, before: '006' });
    const enqueue = (msg: object) => client.query(`SELECT "${schema}".enqueue_orchestrator_message(NULL, $1::jsonb, NULL)`, [JSON.stringify(msg)]);
    await enqueue({ instanceId: 'a', kind: 'start', payload: {} });
    await enqueue({ instanceId: 'a', kind: 'event', payload: { type: 'GO' } });
    await enqueue({ instanceId: 'b', kind: 'start', payload: {} });
    const fetched = await client.query(`SELECT "${schema}".fetch_orchestration_items(NULL, 60000, 1, 'before-006') AS r`);
    const [item] = fetched.rows[0].r as Array<{ instanceId: string; lockToken: string; messages: unknown[] }>;
    assert.equal([item?.instanceId, item?.messages.length], ['a', 2]);

    provider = await openPostgresProvider({ connectionString: url, schema, poolSize: 2 }); // applies 006
    const applied = await sql<{ name: string }>(url, `SELECT name FROM "${schema}".schema_migrations WHERE name LIKE '006%'`);
    assert.is(applied.length, 1, '006 applied by the open');

    await provider.ackOrchestrationItem(item!.lockToken, sampleDelta({ history: historyEvents(1, 0, 2) }));
    assert.is((await provider.getInstance('a'))?.historyLength, 2);
    const left = await sql<{ instance_id: string; kind: string }>(url, `SELECT instance_id, kind FROM "${schema}".orchestrator_queue ORDER BY id`);
    assert.equal(left, [{ instance_id: 'b', kind: 'start' }]);
    const next = await provider.fetchOrchestrationItems({ max: 10, lockMs: 60_000, owner: 'after-006' });
    assert.equal(next.map((i) => [i.instanceId, i.messages.length]), [['b', 1]]);
  } finally {
    await provider?.close();
    await client.end();
    await drop();
  }
});

test.run();
