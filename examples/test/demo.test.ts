/** `npm start` runs examples/demo.ts: it must complete every example instance and exit 0. */
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopTestServer, testSchema } from '../../test/db.js';

function runDemo(env: NodeJS.ProcessEnv, schema: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--schema', schema], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('the demo completes all six example instances and exits 0', async () => {
  const { url, schema, drop } = await testSchema('demo');
  try {
    const { code, output } = await runDemo({ ...process.env, DATABASE_URL: url }, schema);
    assert.is(code, 0, output);
    assert.match(output, /6 of 6 instances completed/);
    assert.match(output, /order saga, compensated/);
    assert.not.match(output, /status {4}(failed|terminated)/);
  } finally {
    await drop();
    await stopTestServer();
  }
});

test.run();
