/**
 * End-to-end harness: a Postgres schema of its own, and runtimes plus a client on it. Tests use
 * short locks and fast polls so that nothing waits long; `close()` shuts everything down so the
 * process exits.
 */
import type { Provider } from '../../../providers/contract.js';
import { createClient, type Client } from '../../client/client.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../runtime.js';
import type { Test } from 'uvu';
import { stopTestServer } from '../../../test/db.js';
import { openTestDatabase, type TestDatabase } from './postgres.js';
import { testLogger } from './silent-logger.js';

export interface Harness {
  db: TestDatabase;
  provider: Provider;
  client: Client;
  /** Start a runtime on its own provider (as another process would run it); shut down by `stopRuntimes()` or `close()`. */
  runtime(opts: Omit<RuntimeOptions, 'provider'>): Promise<Runtime>;
  /** Shut down every runtime started so far (call after each test: a runtime left running would take the next test's work). */
  stopRuntimes(): Promise<void>;
  close(): Promise<void>;
}

export async function openHarness(): Promise<Harness> {
  const db = await openTestDatabase();
  const running: Array<{ runtime: Runtime; provider: Provider }> = [];
  const stopRuntimes = async () => {
    await Promise.all(running.splice(0).map(async ({ runtime, provider }) => {
      await runtime.shutdown({ graceMs: 100 });
      await provider.close();
    }));
  };
  return {
    db,
    provider: db.provider,
    client: createClient({ provider: db.provider }),
    async runtime(opts) {
      const provider = await db.open();
      const runtime = createRuntime({ lockMs: 2_000, pollWaitMs: 1_000, logger: testLogger, concurrency: { orchestrations: 2, activities: 2 }, ...opts, provider });
      running.push({ runtime, provider });
      await runtime.start();
      return runtime;
    },
    stopRuntimes,
    async close() {
      await stopRuntimes();
      await db.close();
    },
  };
}

/**
 * The harness of a test file: opened before its first test, runtimes stopped after each test (a
 * runtime left running would take the next test's work), closed after the last. The returned
 * object is filled in by the `before` hook, so tests use it as if it had been opened here.
 */
export function useHarness(test: Test): Harness {
  const h = {} as Harness;
  test.before(async () => {
    Object.assign(h, await openHarness());
  });
  test.after.each(() => h.stopRuntimes());
  test.after(async () => {
    await h.close();
    await stopTestServer();
  });
  return h;
}
