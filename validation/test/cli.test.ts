/** The `validate` command end to end against the memory provider: exit codes, grep, JSON report. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ValidationReport } from '../case.js';
import { main } from '../cli.js';

/** Run `main` with stdout/stderr captured (the command prints a line per case). */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const original = { stdout: process.stdout.write, stderr: process.stderr.write, log: console.log };
  process.stdout.write = ((chunk: string) => ((out.stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((out.stderr += chunk), true)) as typeof process.stderr.write;
  console.log = (...args: unknown[]) => void (out.stdout += `${args.join(' ')}\n`);
  try {
    return { code: await main(argv), ...out };
  } finally {
    process.stdout.write = original.stdout;
    process.stderr.write = original.stderr;
    console.log = original.log;
  }
}

test('validate --provider memory with a grep runs only the matching cases and writes a JSON report', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'durastate-cli-'));
  try {
    const json = path.join(dir, 'report.json');
    const { code, stdout } = await run(['--provider', 'memory', '--grep', '^properties: (at most one|attempt counts)', '--runs', '3', '--json', json]);
    assert.is(code, 0, stdout);
    const report = JSON.parse(await readFile(json, 'utf8')) as ValidationReport;
    assert.is(report.name, 'memory');
    assert.equal(report.cases.map((c) => [c.category, c.status]), [['properties', 'passed'], ['properties', 'passed']]);
    assert.is(report.passed, 2);
    assert.is(report.failed, 0);
    assert.match(stdout, 'memory: 2 passed, 0 failed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('validate exits 1 when a case fails (a provider module whose fetch always fails)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'durastate-cli-'));
  try {
    const module = path.join(dir, 'broken.ts');
    const memory = path.resolve('validation/factories/memory.ts');
    // A module path provider: the memory factory with a provider whose fetch throws.
    await import('node:fs/promises').then((fs) => fs.writeFile(module, `
      import { memoryFactory } from ${JSON.stringify(memory)};
      export default async () => {
        const put = await memoryFactory()();
        put.provider.fetchOrchestrationItems = async () => { throw new Error('broken on purpose'); };
        return put;
      };
    `));
    const { code, stdout } = await run(['--provider', module, '--grep', '^properties: no message is lost', '--runs', '1']);
    assert.is(code, 1, stdout);
    assert.match(stdout, 'FAIL properties: no message is lost');
    assert.match(stdout, 'broken on purpose');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2 with the usage text on stderr', async () => {
  for (const argv of [[], ['--provider'], ['--provider', 'memory', '--runs', 'many'], ['--provider', 'memory', '--bogus'], ['--provider', 'memory', '--grep', '(']]) {
    const { code, stderr } = await run(argv);
    assert.is(code, 2, `argv ${JSON.stringify(argv)}`);
    assert.match(stderr, 'usage: durastate validate --provider', `argv ${JSON.stringify(argv)}`);
  }
});

test('a grep that selects no case is a usage error', async () => {
  const { code, stderr } = await run(['--provider', 'memory', '--grep', 'no such case at all']);
  assert.is(code, 2);
  assert.match(stderr, 'no case matches');
});

test('--provider postgres without a database URL is a usage error', async () => {
  const saved = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL;
  try {
    const { code, stderr } = await run(['--provider', 'postgres']);
    assert.is(code, 2);
    assert.match(stderr, '--database-url');
  } finally {
    if (saved !== undefined) process.env.DATABASE_URL = saved;
  }
});

test.run();
