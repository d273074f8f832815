/** The README's complete small example (examples/quickstart.ts) runs as printed and completes its order. */
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopTestServer, testSchema } from '../../test/db.js';

test('the README example completes its order and prints the receipt', async () => {
  const { url, schema, drop } = await testSchema('quick');
  try {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], {
        env: { ...process.env, DATABASE_URL: url, DURASTATE_SCHEMA: schema },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('close', (exit) => resolve({ code: exit, output: text }));
    });
    assert.is(code, 0, output);
    assert.match(output, /completed \{ receiptId: 'r-/);
  } finally {
    await drop();
    await stopTestServer();
  }
});

test.run();
