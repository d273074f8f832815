/**
 * `durastate validate ...`: the provider validation suite (validation/cli.ts owns its options and
 * exit codes). Like every command, `--provider postgres` without a URL uses the embedded default.
 */
import { main as validationMain } from '../../../validation/cli.js';
import { resolveDatabaseUrl } from '../../database.js';

export const validateSummary = 'Run the provider validation suite against a provider.';

function wantsEmbeddedDefault(argv: string[]): boolean {
  const postgres = argv.some((a, i) => a === '--provider=postgres' || (a === '--provider' && argv[i + 1] === 'postgres'));
  const hasUrl = argv.some((a) => a === '--database-url' || a.startsWith('--database-url='));
  return postgres && !hasUrl && !process.env.DATABASE_URL && !argv.includes('--help') && !argv.includes('-h');
}

export async function runValidate(argv: string[]): Promise<number> {
  if (!wantsEmbeddedDefault(argv)) return validationMain(argv);
  const db = await resolveDatabaseUrl();
  try {
    return await validationMain([...argv, '--database-url', db.url]);
  } finally {
    await db.release();
  }
}
