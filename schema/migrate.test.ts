import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { checkSchema, loadMigrations, migrate } from './migrate.js';
import { InvalidArgumentError, SchemaError } from '../providers/errors.js';
import { sql, stopTestServer, testSchema, testServer, type TestSchema } from '../test/db.js';

const beds: TestSchema[] = [];
async function bed(): Promise<TestSchema> {
  const b = await testSchema('mig');
  beds.push(b);
  return b;
}

const schemaExists = async (url: string, schema: string): Promise<boolean> =>
  (await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [schema]))[0]!.n === 1;

test.after(async () => {
  for (const b of beds) await b.drop();
  await stopTestServer();
});

test('fresh install applies every migration and records name, sha256 checksum and time', async () => {
  const { url, schema } = await bed();
  const files = await loadMigrations();
  const result = await migrate({ connectionString: url, schema });
  assert.equal(result.applied, files.map((f) => f.name));
  const recorded = await sql<{ name: string; checksum: string; applied_at: string }>(url, `SELECT * FROM "${schema}".schema_migrations ORDER BY name`);
  assert.equal(recorded.map((r) => [r.name, r.checksum]), files.map((f) => [f.name, f.checksum]));
  assert.ok(recorded.every((r) => /^[0-9a-f]{64}$/.test(r.checksum) && Number(r.applied_at) > 0));
  const tables = await sql<{ t: string }>(url, 'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema]);
  assert.equal(tables.map((r) => r.t), ['dead_letters', 'executions', 'history', 'instance_locks', 'instances', 'orchestrator_queue', 'schema_migrations', 'worker_queue']);
});

test('the hot functions keep generic plans; the acks also plan without seq scans or JIT; no hot function is LANGUAGE sql', async () => {
  const { url, schema } = await bed();
  await migrate({ connectionString: url, schema });
  const rows = await sql<{ name: string; lang: string; config: string[] | null }>(url, `
    SELECT p.proname AS name, l.lanname AS lang, p.proconfig AS config
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
    WHERE n.nspname = $1`, [schema]);
  const fn = (name: string) => rows.find((r) => r.name === name)!;
  const entryPoints = ['enqueue_orchestrator_message', 'enqueue_orchestrator_messages', 'fetch_orchestration_items', 'fetch_work_items', 'ack_orchestration_items', 'ack_work_items',
    'ack_work_items_async_commit', 'abandon_orchestration_item', 'abandon_work_item', 'renew_orchestration_lock', 'renew_work_item_lock'];
  for (const name of entryPoints) {
    assert.ok(fn(name).config?.includes('plan_cache_mode=force_generic_plan'), `${name} keeps its plans`);
    assert.is(fn(name).lang, 'plpgsql', `${name} is plpgsql (its plans are cached)`);
  }
  for (const name of ['enqueue_orchestrator_messages', 'ack_orchestration_items', 'ack_work_items', 'fetch_orchestration_items', 'fetch_work_items']) {
    assert.ok(fn(name).config?.includes('enable_seqscan=off') && fn(name).config?.includes('jit=off'), `${name} plans without seq scans or JIT`);
  }
  // Called once per ack: a SQL function with a SET clause is planned on every call.
  assert.is(fn('lock_acked_work').lang, 'plpgsql');
});

test('before: only the migrations named before it are applied; a later run applies the rest', async () => {
  const { url, schema } = await bed();
  const files = (await loadMigrations()).map((m) => m.name);
  const first = await migrate({ connectionString: url, schema, before: files[2]! });
  assert.equal(first.applied, files.slice(0, 2));
  const rest = await migrate({ connectionString: url, schema });
  assert.equal(rest.applied, files.slice(2));
});

test('re-running is a no-op', async () => {
  const { url, schema } = await bed();
  await migrate({ connectionString: url, schema });
  const before = await sql(url, `SELECT * FROM "${schema}".schema_migrations ORDER BY name`);
  assert.equal(await migrate({ connectionString: url, schema }), { applied: [] });
  assert.equal(await sql(url, `SELECT * FROM "${schema}".schema_migrations ORDER BY name`), before);
  await checkSchema({ connectionString: url, schema }); // up to date: no error
});

test('two concurrent runners: one applies, the other waits on the advisory lock and finds nothing to do', async () => {
  const { url, schema } = await bed();
  const [a, b] = await Promise.all([migrate({ connectionString: url, schema }), migrate({ connectionString: url, schema })]);
  const files = (await loadMigrations()).map((f) => f.name);
  assert.equal([a.applied, b.applied].sort((x, y) => y.length - x.length), [files, []]);
  assert.is((await sql(url, `SELECT * FROM "${schema}".schema_migrations`)).length, files.length);
});

test('a caller-provided pool is used and left open', async () => {
  const { url, schema } = await bed();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate({ pool, schema });
    assert.is((await pool.query(`SELECT count(*)::int AS n FROM "${schema}".instances`)).rows[0].n, 0);
  } finally {
    await pool.end();
  }
});

test('a custom schema name holds everything; functions find their tables and notify on that schema\'s channels', async () => {
  const { url, schema } = await bed();
  await migrate({ connectionString: url, schema });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const channels: string[] = [];
    client.on('notification', (n) => channels.push(n.channel));
    await client.query(`LISTEN "${schema}.orchestrator"`);
    // search_path deliberately elsewhere: the function must still find its own tables.
    await client.query('SET search_path TO public');
    await client.query(`SELECT "${schema}".enqueue_orchestrator_message(NULL, $1::jsonb, NULL)`, [JSON.stringify({ instanceId: 'i', kind: 'event', payload: {} })]);
    await client.query('SELECT 1'); // notifications arrive with the next round trip at the latest
    assert.equal(channels, [`${schema}.orchestrator`]);
    assert.is((await client.query(`SELECT count(*)::int AS n FROM "${schema}".orchestrator_queue`)).rows[0].n, 1);
  } finally {
    await client.end();
  }
});

test('hostile or malformed schema names are InvalidArgumentError and nothing is created', async () => {
  const { url } = await testServer();
  const hostile = ['x"; drop table y; --', 'Upper', '1abc', '', 'a-b', 'a'.repeat(49), 'x y'];
  for (const schema of hostile) {
    try {
      await migrate({ connectionString: url, schema });
      assert.unreachable(`accepted ${schema}`);
    } catch (err) {
      assert.instance(err, InvalidArgumentError, schema);
    }
    assert.is(await schemaExists(url, schema), false, schema);
  }
  assert.is(await schemaExists(url, 'x'), false);
});

test('an applied migration whose checksum changed is a SchemaError and nothing is applied', async () => {
  const { url, schema } = await bed();
  await migrate({ connectionString: url, schema });
  await sql(url, `UPDATE "${schema}".schema_migrations SET checksum = repeat('0', 64) WHERE name = '001_init.sql'`);
  try {
    await migrate({ connectionString: url, schema });
    assert.unreachable('accepted a changed migration');
  } catch (err) {
    assert.instance(err, SchemaError);
    assert.is((err as SchemaError).info.migration, '001_init.sql');
  }
  try {
    await checkSchema({ connectionString: url, schema });
    assert.unreachable('checkSchema accepted a changed migration');
  } catch (err) {
    assert.instance(err, SchemaError);
  }
});

test('checkSchema: a schema that was never installed is a SchemaError', async () => {
  const { url, schema } = await bed();
  try {
    await checkSchema({ connectionString: url, schema });
    assert.unreachable('accepted a missing schema');
  } catch (err) {
    assert.instance(err, SchemaError);
  }
  assert.is(await schemaExists(url, schema), false);
});

test('a migration recorded by a newer version of durastate is a SchemaError', async () => {
  const { url, schema } = await bed();
  await migrate({ connectionString: url, schema });
  await sql(url, `INSERT INTO "${schema}".schema_migrations VALUES ('999_future.sql', 'x', 0)`);
  try {
    await migrate({ connectionString: url, schema });
    assert.unreachable('accepted an unknown migration');
  } catch (err) {
    assert.instance(err, SchemaError);
  }
});

test.run();
