/**
 * The `durastate` command as scripts use it: run as a child process (bin/durastate.js) against
 * the test database, checking exit codes and --json output; and a worker process that runs an
 * example module, completes instances and exits 0 on SIGTERM.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Provider } from '../../providers/contract.js';
import { openPostgresProvider } from '../../providers/postgres/index.js';
import { stopTestServer, testSchema, type TestSchema } from '../../test/db.js';
import { createClient, type Client } from '../index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/durastate.js');

let db: TestSchema;
let dbArgs: string[];

interface Run { code: number | null; stdout: string; stderr: string }

function durastate(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run with --json and parse stdout (one JSON document). */
async function durastateJson(args: string[]): Promise<{ code: number | null; body: any }> {
  const run = await durastate([...args, ...dbArgs, '--json']);
  try {
    return { code: run.code, body: JSON.parse(run.stdout) };
  } catch {
    throw new Error(`stdout is not JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
}

test.before(async () => {
  db = await testSchema('cli');
  dbArgs = ['--database-url', db.url, '--schema', db.schema];
});
test.after(async () => {
  await db.drop();
  await stopTestServer();
});

test('--help exits 0 and lists the commands; each command has its own help', async () => {
  const top = await durastate(['--help']);
  assert.is(top.code, 0);
  for (const name of ['migrate', 'worker', 'start', 'raise', 'status', 'history', 'terminate', 'validate']) assert.match(top.stdout, name);
  const start = await durastate(['start', '--help']);
  assert.is(start.code, 0);
  assert.match(start.stdout, '--instance-id');
});

test('usage errors exit 2: no command, unknown command, unknown option, missing argument', async () => {
  const [none, unknown, badOption, missing] = await Promise.all([
    durastate([]), durastate(['frobnicate']), durastate(['status', 'x', '--no-such-option']), durastate(['status']),
  ]);
  assert.equal([none.code, unknown.code, badOption.code, missing.code], [2, 2, 2, 2]);
  assert.match(missing.stderr, 'missing <instanceId>');
});

test('migrate installs the schema, and running it again applies nothing', async () => {
  const first = await durastateJson(['migrate']);
  assert.is(first.code, 0);
  assert.is(first.body.schema, db.schema);
  assert.ok(first.body.applied.length > 0);
  const again = await durastateJson(['migrate']);
  assert.equal(again, { code: 0, body: { schema: db.schema, applied: [] } });
});

test('start queues an instance; with no worker running its status is pending', async () => {
  const started = await durastate(['start', 'approval', '--input', '{"requestId":"p","amount":1,"timeoutMs":600000}', '--instance-id', 'cli-pending', ...dbArgs]);
  assert.is(started.code, 0, started.stderr);
  assert.is(started.stdout.trim(), 'cli-pending', 'human output is the bare id');
  const status = await durastateJson(['status', 'cli-pending']);
  assert.is(status.code, 0);
  assert.is(status.body.status, 'pending');
  const again = await durastateJson(['start', 'approval', '--instance-id', 'cli-pending']);
  assert.is(again.code, 1, 'a duplicate start is a failed operation');
  assert.is(again.body.error.code, 'INSTANCE_EXISTS');
});

test('an unknown instance exits 3 with a JSON error', async () => {
  const raised = await durastateJson(['raise', 'no-such-instance', '--event', '{"type":"APPROVE"}']);
  assert.is(raised.code, 3);
  assert.is(raised.body.error.code, 'INSTANCE_NOT_FOUND');
  assert.equal(raised.body.error.details, { instanceId: 'no-such-instance' });
  const others = await Promise.all([durastateJson(['status', 'no-such-instance']), durastateJson(['terminate', 'no-such-instance'])]);
  assert.equal(others.map((r) => r.code), [3, 3]);
});

test('bad JSON exits 2 before touching the database', async () => {
  const start = await durastate(['start', 'approval', '--input', '{not json', '--database-url', 'postgres://nobody@127.0.0.1:1/none', '--json']);
  assert.is(start.code, 2);
  assert.is(JSON.parse(start.stdout).error.code, 'USAGE');
  const raise = await durastateJson(['raise', 'cli-pending', '--event', '"APPROVE"']);
  assert.is(raise.code, 2, 'an event must be an object with a type');
});

test('worker --module with a module that exports no definitions is a usage error', async () => {
  const run = await durastate(['worker', '--module', 'runtime/cli/output.ts', ...dbArgs]);
  assert.is(run.code, 2);
  assert.match(run.stderr, 'exports no');
});

// ---- a worker process

function startWorker(): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, 'worker', '--module', 'examples/all.ts', '--grace-ms', '2000', ...dbArgs], {
    cwd: root, env: { ...process.env, DURASTATE_LOG_LEVEL: 'info' },
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('"msg":"worker started"')) resolve();
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`worker exited early (${code}): ${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited };
}

/** Resolves when the instance's stored status satisfies `predicate` (woken by notifications). */
function statusReached(provider: Provider, instanceId: string, predicate: (status: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => provider.getInstance(instanceId).then((r) => r && predicate(r.status) && (unwatch(), resolve()), reject);
    const unwatch = provider.watchInstance(instanceId, () => void check());
    void check();
  });
}

test('a worker runs an example module: instances complete, status/history/terminate work, SIGTERM exits 0', async () => {
  const worker = startWorker();
  const provider = await openPostgresProvider({ connectionString: db.url, schema: db.schema, poolSize: 2, migrate: false });
  const client: Client = createClient({ provider });
  try {
    await worker.ready;
    // The instance queued by an earlier test (no worker then) is picked up too; decide it.
    assert.is((await durastateJson(['raise', 'cli-pending', '--event', '{"type":"APPROVE","by":"cli"}'])).code, 0);
    const decided = await client.waitForCompletion('cli-pending', { timeoutMs: 30_000 });
    assert.equal(decided.output, { requestId: 'p', decision: 'approved', by: 'cli' });

    const status = await durastateJson(['status', 'cli-pending']);
    assert.is(status.body.status, 'completed');
    assert.equal(status.body.output, decided.output);
    const history = await durastateJson(['history', 'cli-pending']);
    assert.is(history.code, 0);
    assert.is(history.body[0].type, 'started');
    assert.is(history.body.at(-1).type, 'completed');

    // A request nobody answers stays running until terminated.
    assert.is((await durastate(['start', 'approval', '--input', '{"requestId":"t","amount":1,"timeoutMs":600000}', '--instance-id', 'cli-running', ...dbArgs])).code, 0);
    await statusReached(provider, 'cli-running', (s) => s === 'running');
    assert.is((await durastateJson(['status', 'cli-running'])).body.status, 'running');
    assert.is((await durastateJson(['terminate', 'cli-running', '--reason', 'test over'])).code, 0);
    const terminated = await client.waitForCompletion('cli-running', { timeoutMs: 30_000 });
    assert.is(terminated.status, 'terminated');

    worker.child.kill('SIGTERM');
    assert.is(await worker.exited, 0, 'a graceful shutdown exits 0');
  } finally {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await provider.close();
  }
});

test.run();
