/** The whole validation suite against the PostgreSQL provider, on the shared test server. */
import { runProviderValidation } from '../index.js';
import { postgresFactory } from '../factories/postgres.js';
import { stopTestServer, testServer } from '../../test/db.js';

const { url } = await testServer();
try {
  const report = await runProviderValidation(postgresFactory({ connectionString: url }), { name: 'postgres' });
  if (report.failed > 0) process.exitCode = 1;
} finally {
  await stopTestServer();
}
