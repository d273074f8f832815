/**
 * A Postgres provider on a fresh schema of the shared test server, with a small pool (several test
 * files and engineers share one server). `close()` closes the provider and drops the schema.
 */
import type { Provider } from '../../../providers/contract.js';
import { openPostgresProvider } from '../../../providers/postgres/index.js';
import { testSchema } from '../../../test/db.js';

export interface TestDatabase {
  url: string;
  schema: string;
  /** Another provider on the same schema (as a second process would have). The caller closes it. */
  open(): Promise<Provider>;
  provider: Provider;
  close(): Promise<void>;
}

export async function openTestDatabase(): Promise<TestDatabase> {
  const { url, schema, drop } = await testSchema('rt');
  const open = () => openPostgresProvider({ connectionString: url, schema, poolSize: 3 });
  const provider = await open();
  return {
    url, schema, open, provider,
    async close() {
      await provider.close();
      await drop();
    },
  };
}
