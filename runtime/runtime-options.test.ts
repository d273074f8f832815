/** createRuntime checks its numeric options before anything runs: InvalidArgumentError naming the option. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryProvider } from '../providers/memory/memory-provider.js';
import { InvalidArgumentError } from '../providers/errors.js';
import { createRuntime } from './runtime.js';

function refused(opts: Parameters<typeof createRuntime>[0], what: string): void {
  try {
    createRuntime(opts);
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
    assert.is((err as InvalidArgumentError).code, 'INVALID_ARGUMENT');
    assert.match((err as Error).message, what);
    return;
  }
  assert.unreachable(`createRuntime accepted a bad ${what}`);
}

test('lockMs, concurrency and machineCacheSize outside their range are refused with the option named', () => {
  const provider = new MemoryProvider();
  refused({ provider, lockMs: 0 }, 'lockMs');
  refused({ provider, concurrency: { activities: 1.5 } }, 'concurrency.activities');
  refused({ provider, machineCacheSize: -1 }, 'machineCacheSize');
  refused({ provider, machineCacheSize: 2.5 }, 'machineCacheSize');
});

test('machineCacheSize 0 (restore every turn) is a valid choice', () => {
  assert.ok(createRuntime({ provider: new MemoryProvider(), machineCacheSize: 0 }));
});

test.run();
