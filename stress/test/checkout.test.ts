/** The harness finds its checkout and its sibling modules the same way from sources and compiled. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHECKOUT_ROOT, harnessModule, nodeArgsFor } from '../checkout.js';

test('the checkout root is the folder with durastate\'s package.json', () => {
  assert.is(JSON.parse(readFileSync(path.join(CHECKOUT_ROOT, 'package.json'), 'utf8')).name, 'durastate');
});

test('sibling modules take the running module\'s extension, and only TypeScript goes through tsx', () => {
  assert.is(harnessModule('/x', 'worker-process'), path.join('/x', 'worker-process.ts'), 'run from sources here');
  assert.equal(nodeArgsFor('/x/worker-process.ts'), ['--import', 'tsx', '/x/worker-process.ts']);
  assert.equal(nodeArgsFor('/x/worker-process.js'), ['/x/worker-process.js']);
});

test.run();
