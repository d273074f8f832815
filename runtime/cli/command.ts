/**
 * What every sub-command shares: its description, the common options, argument parsing with
 * usage errors (exit code 2), and typed access to the parsed values.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DurastateError } from '../../providers/errors.js';
import type { Json } from '../../providers/types.js';
import type { Output } from './output.js';

/** Bad command line: exit code 2. */
export class UsageError extends DurastateError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface CliCommand {
  name: string;
  /** One line for `durastate --help`. */
  summary: string;
  /** The synopsis after `durastate `, e.g. `status <instanceId>`. */
  synopsis: string;
  /** Help lines for the command's own options (the common ones are appended). */
  optionsHelp?: string;
  options?: OptionsConfig;
  /** Names of the required positional arguments, in order. */
  positionals?: readonly string[];
  /** Throws typed errors; main maps them to exit codes. Resolving means exit 0. */
  run(args: CommandArgs, out: Output): Promise<void>;
}

/** Options every database command accepts. */
export const COMMON_OPTIONS = {
  'database-url': { type: 'string' },
  schema: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

export const COMMON_HELP = `  --database-url <url>  PostgreSQL to use (default: $DATABASE_URL, else the embedded server)
  --schema <name>       schema holding durastate's tables (default: durastate)
  --data-dir <dir>      data folder of the embedded server (default: .durastate/pgdata)
  --json                print the result (or the error) as JSON on stdout
  -h, --help            show this help`;

export function commandHelp(command: CliCommand): string {
  const own = command.optionsHelp ? `${command.optionsHelp}\n` : '';
  return `usage: durastate ${command.synopsis}\n\n${command.summary}\n\noptions:\n${own}${COMMON_HELP}\n`;
}

export class CommandArgs {
  constructor(
    private readonly values: Record<string, string | boolean | undefined>,
    readonly positionals: readonly string[],
  ) {}

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  requiredString(name: string): string {
    const v = this.string(name);
    if (v === undefined || v.length === 0) throw new UsageError(`--${name} is required`);
    return v;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** A positive integer option, or `fallback` when absent. */
  integer(name: string, fallback: number): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${name} needs a positive integer, got '${text}'`);
    return n;
  }

  /** A JSON option (`--input '{"amount":5}'`), or `fallback` when absent. */
  json(name: string, fallback: Json): Json {
    const text = this.string(name);
    if (text === undefined) return fallback;
    try {
      return JSON.parse(text) as Json;
    } catch (e) {
      throw new UsageError(`--${name} is not valid JSON: ${(e as Error).message}`);
    }
  }

  positional(index: number): string {
    return this.positionals[index]!; // parseCommandArgs checked the count
  }
}

/** Parse argv for `command`; 'help' when --help was asked. UsageError for unknown options or missing arguments. */
export function parseCommandArgs(command: CliCommand, argv: string[]): CommandArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...COMMON_OPTIONS, ...command.options } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.values.help) return 'help';
  const expected = command.positionals ?? [];
  if (parsed.positionals.length < expected.length) throw new UsageError(`missing <${expected[parsed.positionals.length]}>`);
  if (parsed.positionals.length > expected.length) throw new UsageError(`unexpected argument '${parsed.positionals[expected.length]}'`);
  return new CommandArgs(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
}
