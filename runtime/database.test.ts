/**
 * Resolving the database: an explicit URL, then DATABASE_URL, then the embedded default. The
 * embedded server is started once per data folder; other processes reuse it; only its starter stops it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveDatabaseUrl, type ResolvedDatabase } from './database.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const envUrl = process.env.DATABASE_URL;
let folder: string;
let dataDir: string;
let owner: ResolvedDatabase | undefined;

test.before(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'durastate-db-'));
  dataDir = path.join(folder, 'pgdata');
});
test.after(async () => {
  if (envUrl !== undefined) process.env.DATABASE_URL = envUrl;
  await owner?.release();
  await rm(folder, { recursive: true, force: true });
});

test('an explicit URL wins over DATABASE_URL, which wins over the embedded default', async () => {
  process.env.DATABASE_URL = 'postgres://from-env@127.0.0.1:5432/x';
  const given = await resolveDatabaseUrl({ databaseUrl: 'postgres://given@127.0.0.1:5432/x', dataDir });
  assert.equal([given.url, given.source, given.embedded], ['postgres://given@127.0.0.1:5432/x', 'option', null]);
  const fromEnv = await resolveDatabaseUrl({ dataDir });
  assert.equal([fromEnv.url, fromEnv.source], ['postgres://from-env@127.0.0.1:5432/x', 'DATABASE_URL']);
  assert.not.ok(existsSync(dataDir), 'no embedded server was started');
});

function migrateInAnotherProcess(): Promise<{ code: number | null; stdout: string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin/durastate.js'), 'migrate', '--data-dir', dataDir, '--json'], { cwd: root, env }, (err, stdout) =>
      resolve({ code: err ? (err.code as number) : 0, stdout }));
  });
}

test('without a URL the embedded server starts in the data folder; another process reuses it and leaves it running', async () => {
  delete process.env.DATABASE_URL;
  owner = await resolveDatabaseUrl({ dataDir });
  assert.is(owner.source, 'embedded-started');
  assert.ok(owner.embedded);
  assert.ok(existsSync(path.join(dataDir, 'postmaster.pid')));

  const second = await resolveDatabaseUrl({ dataDir });
  assert.is(second.source, 'embedded-reused');
  assert.is(second.url, owner.url);
  assert.is(second.embedded, null);
  await second.release(); // not the starter: does nothing

  const cli = await migrateInAnotherProcess();
  assert.is(cli.code, 0, cli.stdout);
  assert.ok(JSON.parse(cli.stdout).applied.length > 0, 'the other process used the running server');
  assert.is((await resolveDatabaseUrl({ dataDir })).source, 'embedded-reused', 'the server outlived the process that reused it');

  await owner.release();
  assert.not.ok(existsSync(path.join(dataDir, 'postmaster.pid')), 'the starter stopped it');
  owner = undefined;
});

test('the data folder persists: the next start reuses the initialised cluster and its data', async () => {
  delete process.env.DATABASE_URL;
  owner = await resolveDatabaseUrl({ dataDir });
  assert.is(owner.source, 'embedded-started');
  const cli = await migrateInAnotherProcess();
  assert.equal(JSON.parse(cli.stdout).applied, [], 'the schema installed by the earlier run is still there');
});

test.run();
