/**
 * The `durastate` command: picks the sub-command, maps outcomes to exit codes scripts can rely on:
 *   0 ok, 1 the operation failed (a typed error: its code and message are printed),
 *   2 usage error, 3 instance not found.
 * bin/durastate.js runs this file through tsx; `node --import tsx runtime/cli/main.ts` works too.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstanceNotFoundError } from '../../providers/errors.js';
import { commandHelp, parseCommandArgs, UsageError, type CliCommand } from './command.js';
import { historyCommand } from './commands/history.js';
import { migrateCommand } from './commands/migrate.js';
import { raiseCommand } from './commands/raise.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { terminateCommand } from './commands/terminate.js';
import { runValidate, validateSummary } from './commands/validate.js';
import { workerCommand } from './commands/worker.js';
import { Output } from './output.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3 } as const;

const COMMANDS: readonly CliCommand[] = [migrateCommand, workerCommand, startCommand, raiseCommand, statusCommand, historyCommand, terminateCommand];

const USAGE = `usage: durastate <command> [options]

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(11)}${c.summary}`).join('\n')}
  ${'validate'.padEnd(11)}${validateSummary}

Every command takes --database-url <url> (default: $DATABASE_URL, else an embedded PostgreSQL
whose files live in .durastate/pgdata), --schema <name>, --json and --help.
\`durastate <command> --help\` shows the command's options.

exit codes: 0 ok, 1 operation failed, 2 usage error, 3 instance not found
`;

function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof InstanceNotFoundError) return EXIT.notFound;
  return EXIT.failed;
}

/** Run the command line `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  // `durastate history x | head` closes the pipe early: that is the reader's choice, not a crash.
  process.stdout.once('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === 'validate') return runValidate(rest);
  const out = new Output(rest.includes('--json'));
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command '${name}'; see durastate --help`);
    const args = parseCommandArgs(command, rest);
    if (args === 'help') {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    await command.run(args, out);
    return EXIT.ok;
  } catch (err) {
    out.error(err);
    if (err instanceof UsageError && command && !out.json) process.stderr.write(`\n${commandHelp(command)}`);
    return exitCodeOf(err);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
