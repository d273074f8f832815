/**
 * openPostgresProvider's failures at start-up come out as the contract's typed errors (retryable
 * when the server is unreachable or shutting down), and a failed open leaves nothing running.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DatabaseAccessError } from '../errors.js';
import { stopTestServer, testServer } from '../../test/db.js';
import { expectError } from '../../validation/conformance/helpers.js';
import { openPostgresProvider } from './index.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'open-and-report.ts');
/** A bound on a hang, not a measurement: a child that has not exited by then never will. */
const CHILD_LIMIT_MS = 60_000;

test.after(() => stopTestServer());

interface Report { opened: boolean; name?: string; code?: string | null; message?: string }

/** Run the fixture against `url`; resolves with its report once it exited by itself. */
function openInChild(url: string): Promise<Report> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: path.resolve(path.dirname(fixture), '../../..'),
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not exit after a failed open; it printed: ${out}`));
    }, CHILD_LIMIT_MS);
    child.once('exit', (code) => {
      clearTimeout(limit);
      if (code !== 0) return reject(new Error(`the child exited with ${code}; it printed: ${out}`));
      resolve(JSON.parse(out.trim()) as Report);
    });
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A server that answers every connection's startup packet the way PostgreSQL does while shutting
 * down: an ErrorResponse with SQLSTATE 57P03, then it hangs up.
 */
function shuttingDownServer(): Server {
  const field = (type: string, value: string) => Buffer.concat([Buffer.from(type), Buffer.from(value), Buffer.from([0])]);
  const body = Buffer.concat([
    field('S', 'FATAL'), field('V', 'FATAL'), field('C', '57P03'), field('M', 'the database system is shutting down'), Buffer.from([0]),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  const response = Buffer.concat([Buffer.from('E'), length, body]);
  return createServer((socket: Socket) => {
    socket.once('data', () => socket.end(response));
    socket.on('error', () => {});
  });
}

test('a closed port: RetryableProviderError, and the process exits with nothing left open', async () => {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server); // nothing listens on the port now
  const report = await openInChild(`postgres://postgres@127.0.0.1:${port}/test`);
  assert.equal([report.opened, report.name, report.code], [false, 'RetryableProviderError', 'RETRYABLE']);
  assert.match(report.message ?? '', /ECONNREFUSED/);
});

test('a server shutting down (57P03): RetryableProviderError, and the process exits', async () => {
  const server = shuttingDownServer();
  const port = await listen(server);
  try {
    const report = await openInChild(`postgres://postgres@127.0.0.1:${port}/test`);
    assert.equal([report.opened, report.name, report.code], [false, 'RetryableProviderError', 'RETRYABLE']);
    assert.match(report.message ?? '', /shutting down/);
  } finally {
    await closeServer(server);
  }
});

test('an unknown role: DatabaseAccessError (retrying would not help)', async () => {
  const url = new URL((await testServer()).url);
  url.username = 'durastate_no_such_role';
  url.password = 'not-the-password'; // empty would make pg's SCRAM client wait instead of failing on a password server
  const err = await expectError(openPostgresProvider({ connectionString: url.href, schema: 'open_no_role' }), DatabaseAccessError);
  assert.match(String(err.info.sqlstate), /^28/);
});

test.run();
