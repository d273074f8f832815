import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { stopTestServer, testSchema } from './db.js';

test('testSchema gives distinct schema names on a server that answers, and drop removes the schema', async () => {
  const a = await testSchema();
  const b = await testSchema();
  assert.is.not(a.schema, b.schema);
  const client = new pg.Client({ connectionString: a.url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${a.schema}"`);
    const exists = async () => (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [a.schema])).rowCount;
    assert.is(await exists(), 1);
    await a.drop();
    assert.is(await exists(), 0);
  } finally {
    await client.end();
    await stopTestServer();
  }
});

test.run();
