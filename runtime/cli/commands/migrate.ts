/** `durastate migrate`: install or update the schema (idempotent; concurrent runs are serialised by the migrator). */
import { migrate } from '../../../providers/postgres/index.js';
import { resolveDatabaseUrl } from '../../database.js';
import type { CliCommand } from '../command.js';

const DEFAULT_SCHEMA = 'durastate';

export const migrateCommand: CliCommand = {
  name: 'migrate',
  summary: 'Install or update the durastate schema in the database.',
  synopsis: 'migrate [options]',
  async run(args, out) {
    const db = await resolveDatabaseUrl({ databaseUrl: args.string('database-url'), dataDir: args.string('data-dir') });
    try {
      const schema = args.string('schema') ?? DEFAULT_SCHEMA;
      const { applied } = await migrate({ connectionString: db.url, schema });
      out.result({ schema, applied }, () =>
        applied.length === 0 ? `schema '${schema}' is up to date` : `schema '${schema}': applied ${applied.join(', ')}`);
    } finally {
      await db.release();
    }
  },
};
