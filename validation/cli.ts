/**
 * `durastate validate`: run the provider validation suite (conformance, properties, faults) against
 * a provider and print one line per case. Exit code 0 when every case passed (or was not
 * applicable), 1 when any failed, 2 for a usage error.
 *
 * The package CLI mounts `main` as its `validate` sub-command; `node --import tsx validation/cli.ts`
 * runs it directly.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { allCases } from './cases.js';
import type { CaseReport, ValidationOptions } from './case.js';
import type { ProviderFactory } from './factory.js';
import { runCases } from './run.js';

export const USAGE = `usage: durastate validate --provider <module|postgres|memory> [options]

  --provider <p>        memory: the in-memory reference; postgres: the PostgreSQL provider;
                        otherwise a module path whose default export (or export named
                        'factory') is a ProviderFactory
  --grep <re>           run only the cases whose "category: name" matches the regular expression
  --seed <n>            fast-check seed for the property cases (replays a reported failure)
  --runs <n>            fast-check runs per property (default: small, for CI)
  --json <file>         also write the report as JSON to <file>
  --database-url <url>  PostgreSQL for --provider postgres (default: $DATABASE_URL)
  -h, --help            show this text
`;

class UsageError extends Error {}

interface CliArgs {
  provider: string;
  options: ValidationOptions;
  json?: string;
  databaseUrl?: string;
}

function integer(text: string, flag: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} needs an integer >= ${min}, got '${text}'`);
  return n;
}

function parse(argv: string[]): CliArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        provider: { type: 'string' },
        grep: { type: 'string' },
        seed: { type: 'string' },
        runs: { type: 'string' },
        json: { type: 'string' },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  if (!values.provider) throw new UsageError('--provider is required');
  const options: ValidationOptions = { name: values.provider };
  if (values.grep !== undefined) {
    try {
      options.grep = new RegExp(values.grep);
    } catch {
      throw new UsageError(`--grep is not a valid regular expression: ${values.grep}`);
    }
  }
  if (values.seed !== undefined) options.seed = integer(values.seed, '--seed', Number.MIN_SAFE_INTEGER);
  if (values.runs !== undefined) options.runs = integer(values.runs, '--runs', 1);
  const args: CliArgs = { provider: values.provider, options };
  if (values.json !== undefined) args.json = values.json;
  const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL;
  if (databaseUrl) args.databaseUrl = databaseUrl;
  return args;
}

async function loadFactory(args: CliArgs): Promise<ProviderFactory> {
  // Imported on demand: validating the memory provider should not load pg, and vice versa.
  if (args.provider === 'memory') return (await import('./factories/memory.js')).memoryFactory();
  if (args.provider === 'postgres') {
    if (!args.databaseUrl) throw new UsageError('--provider postgres needs --database-url or DATABASE_URL');
    return (await import('./factories/postgres.js')).postgresFactory({ connectionString: args.databaseUrl });
  }
  const file = path.resolve(args.provider);
  let mod: { default?: unknown; factory?: unknown };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    throw new UsageError(`cannot load provider module ${file}: ${(error as Error).message}`);
  }
  const factory = mod.default ?? mod.factory;
  if (typeof factory !== 'function') throw new UsageError(`${file} exports no ProviderFactory (a default export or one named 'factory')`);
  return factory as ProviderFactory;
}

const MARK: Record<CaseReport['status'], string> = { passed: 'ok  ', failed: 'FAIL', 'not-applicable': 'n/a ' };

function printCase(c: CaseReport): void {
  console.log(`${MARK[c.status]} ${c.category}: ${c.name}  (${c.durationMs} ms)`);
  if (c.status === 'failed' && c.error) console.log(c.error.replace(/^/gm, '       '));
  if (c.status === 'not-applicable' && c.error) console.log(`       ${c.error}`);
}

/** Run the validate command; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let args: CliArgs | 'help';
  let factory: ProviderFactory;
  try {
    args = parse(argv);
    if (args === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    factory = await loadFactory(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`durastate validate: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  const report = await runCases(allCases(args.options), factory, args.options);
  if (report.cases.length === 0) {
    process.stderr.write(`durastate validate: no case matches --grep ${String(args.options.grep)}\n`);
    return 2;
  }
  report.cases.forEach(printCase);
  console.log(`\n${report.name}: ${report.passed} passed, ${report.failed} failed, ${report.notApplicable} not applicable`);
  if (args.json) await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.failed === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
