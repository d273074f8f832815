/**
 * Crash recovery: a runtime in a child process is killed with SIGKILL in the middle of a turn (its
 * guard blocks the process before the ack) and, in a second child, in the middle of an activity.
 * A runtime started afterwards (short locks, so the dead process's locks expire quickly) finishes
 * every instance exactly once: each GO applied once, the activity run at least once (runs are
 * counted in files), and its result applied exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { stopTestServer } from '../../test/db.js';
import { blockedLine, crashDefinitions, type BlockPoint } from './fixtures/crash-definitions.js';
import { openHarness, type Harness } from './support/harness.js';
import { test } from 'uvu';

const LOCK_MS = 1_000;
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crash-runtime.ts');

let h: Harness;
let runsDir: string;
const children: ChildProcess[] = [];

test.before(async () => {
  h = await openHarness();
  runsDir = await mkdtemp(path.join(tmpdir(), 'durastate-crash-'));
});
test.after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await h.close();
  await rm(runsDir, { recursive: true, force: true });
  await stopTestServer();
});

/** Start the child runtime and resolve once it printed `line` (rejects if it exits first). */
function runChildUntil(block: BlockPoint, line: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: path.resolve(path.dirname(fixture), '../../..'),
    env: { ...process.env, DATABASE_URL: h.db.url, SCHEMA: h.db.schema, RUNS_DIR: runsDir, BLOCK: block, LOCK_MS: String(LOCK_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l === line && resolve(child));
    child.once('exit', (code, signal) => reject(new Error(`crash-runtime exited (${code ?? signal}) before printing '${line}'`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function runs(instanceId: string): Promise<number> {
  const text = await readFile(path.join(runsDir, `${instanceId}.runs`), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).length;
}

async function appliedKinds(instanceId: string): Promise<string[]> {
  const kinds: string[] = [];
  for await (const e of h.client.history(instanceId)) if (e.type === 'event') kinds.push((e.data as { kind: string }).kind);
  return kinds;
}

test('instances interrupted by SIGKILL mid-turn and mid-activity are finished exactly once by another runtime', async () => {
  const { crashable, orchestrations, activities } = crashDefinitions({ runsDir, block: null });

  // 1. Killed inside a turn: the GO turn's guard blocks the child before the ack.
  const turnId = 'crash-in-turn';
  await h.client.start(crashable, { instanceId: turnId, block: 'turn' }, { instanceId: turnId });
  await h.client.raiseEvent(turnId, { type: 'GO' });
  await killed(await runChildUntil('turn', blockedLine('turn', turnId)));
  assert.is(await runs(turnId), 0, 'the turn never committed, so the activity was never scheduled');

  // 2. Killed inside an activity: the turn committed, the activity recorded its run and blocks.
  const activityId = 'crash-in-activity';
  await h.client.start(crashable, { instanceId: activityId, block: 'activity' }, { instanceId: activityId });
  await h.client.raiseEvent(activityId, { type: 'GO' });
  await killed(await runChildUntil('activity', blockedLine('activity', activityId)));
  assert.ok((await runs(activityId)) >= 1, 'the activity started before the crash');

  // 3. Recovery: a runtime that never blocks, with short locks.
  await h.runtime({ orchestrations, activities, lockMs: LOCK_MS });
  for (const id of [turnId, activityId]) {
    const final = await h.client.waitForCompletion<typeof crashable>(id, { timeoutMs: 30_000 });
    assert.is(final.status, 'completed', `${id} completed`);
    assert.equal(final.output, { gone: 1, applied: 1, result: { ranFor: id } }, `${id}: GO and the result applied exactly once`);
    const kinds = await appliedKinds(id);
    assert.is(kinds.filter((k) => k === 'event').length, 1, `${id}: one GO in history`);
    assert.is(kinds.filter((k) => k === 'activityCompleted').length, 1, `${id}: one result in history`);
    assert.ok((await runs(id)) >= 1, `${id}: the activity ran at least once`);
  }
  assert.ok((await runs(activityId)) >= 2, 'the interrupted activity ran again after the crash');
  const depths = await h.provider.queueDepths();
  assert.is(depths.deadLetters, 0);
  assert.equal(depths.worker, { visible: 0, delayed: 0, locked: 0 });
});

test.run();
