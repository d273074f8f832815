/**
 * The suite can fail: run the whole validation suite (conformance + properties) against each
 * deliberately broken provider and require at least one failing case, and against the unmodified
 * memory reference and require none. Prints which cases caught each mutant.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allCases } from '../cases.js';
import { memoryFactory } from '../factories/memory.js';
import { runCases } from '../run.js';
import { MUTANTS } from './mutants/index.js';

const options = { name: 'mutant' };

test('the unmodified memory reference passes every case', async () => {
  const report = await runCases(allCases(options), memoryFactory(), options);
  const failed = report.cases.filter((c) => c.status === 'failed').map((c) => `${c.category}: ${c.name}: ${c.error}`);
  assert.equal(failed, []);
  assert.ok(report.passed > 0, 'some cases ran');
});

for (const mutant of MUTANTS) {
  test(`the suite rejects the mutant where ${mutant.breaks}`, async () => {
    const report = await runCases(allCases(options), mutant.factory, options);
    const caught = report.cases.filter((c) => c.status === 'failed');
    console.log(`  [${mutant.breaks}] caught by ${caught.length} case(s):\n${caught.map((c) => `    - ${c.category}: ${c.name}`).join('\n')}`);
    assert.ok(caught.length > 0, `no case failed against the mutant where ${mutant.breaks}`);
  });
}

test.run();
