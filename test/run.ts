/**
 * The test command (`npm test`): resolves one PostgreSQL server for the whole run (see test/db.ts),
 * then runs every `*.test.ts` file as its own uvu process against it, two at a time, and ends with
 * one line `N passed, N failed`. Arguments filter files by substring.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopTestServer, testServer } from './db.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['providers', 'schema', 'runtime', 'validation', 'stress', 'examples', 'test'];
const FILE_TIMEOUT_MS = 15 * 60_000;
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2);

async function findTests(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') found.push(...(await findTests(full)));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

interface FileResult { file: string; passed: number; failed: number; output: string; code: number | null; ms: number }

const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

function runFile(file: string, env: NodeJS.ProcessEnv): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[run] killed after ${FILE_TIMEOUT_MS} ms\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = stripAnsi(output);
      const total = [...text.matchAll(/Total:\s+(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      const passed = [...text.matchAll(/Passed:\s+(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      // A file that crashed or hung counts as at least one failure even if uvu never printed a summary.
      const failed = Math.max(total - passed, code === 0 ? 0 : 1);
      resolve({ file: path.relative(root, file), passed, failed, output: text, code, ms: Date.now() - started });
    });
  });
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const files = (await Promise.all(FOLDERS.map((f) => findTests(path.join(root, f))))).flat().sort()
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
  const server = await testServer();
  console.log(`[run] ${files.length} test files against PostgreSQL from ${server.source}`);
  const env = { ...process.env, DATABASE_URL: server.url, FORCE_COLOR: '0' };
  const queue = [...files];
  const results: FileResult[] = [];
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const result = await runFile(file, env);
      results.push(result);
      const mark = result.failed ? 'FAIL' : 'ok  ';
      console.log(`[run] ${mark} ${result.file}  ${result.passed} passed, ${result.failed} failed  (${result.ms} ms)`);
      if (result.failed) console.log(result.output.replace(/^/gm, '    '));
    }
  }));
  await stopTestServer();
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  console.log(`\n${passed} passed, ${failed} failed`);
  return failed === 0 && files.length > 0 ? 0 : 1;
}

process.exitCode = await main();
