/**
 * The property half on its own: it passes on the memory reference, and a failure reports the
 * shrunk command sequence with the seed that replays it, and replaying that seed finds the same.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { memoryFactory } from '../factories/memory.js';
import { runCases } from '../run.js';
import { AbandonForgetsDelay } from '../test/mutants/abandon-forgets-delay.js';
import { mutantFactory } from '../test/mutants/time-bending-memory.js';
import { propertyCases } from './index.js';

test('every property holds for the memory reference', async () => {
  const report = await runCases(propertyCases({}), memoryFactory(), { runs: 25 });
  assert.is(report.cases.length, 6);
  assert.equal(report.cases.filter((c) => c.status !== 'passed').map((c) => `${c.name}: ${c.error}`), []);
});

test('a failing property reports its shrunk command sequence and a seed that replays it', async () => {
  const broken = mutantFactory((clock) => new AbandonForgetsDelay(clock));
  const options = { name: 'mutant', grep: 'properties: attempt counts', seed: 42, runs: 200 };
  const first = await runCases(propertyCases(options), broken, options);
  const failure = first.cases[0]!;
  assert.is(failure.status, 'failed');
  assert.is(failure.seed, 42);
  assert.match(failure.error!, 'shrunk command sequence: ');
  assert.match(failure.error!, /abandon\(d\d#\d, \+\d+ms/, 'the sequence names the abandon with a delay');
  assert.match(failure.error!, "--grep 'attempt counts are exact");
  assert.match(failure.error!, '--seed 42');
  const replay = await runCases(propertyCases(options), broken, options);
  assert.is(replay.cases[0]!.counterexample, failure.counterexample, 'the same seed finds the same counterexample');
});

test.run();
