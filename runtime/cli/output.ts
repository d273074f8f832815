/**
 * Where command results and errors go. With --json every result is one JSON document on stdout,
 * and so is an error (`{"error":{code,message,details}}`), so a script reads stdout and the exit
 * code only. Without it, results are lines for people and errors go to stderr.
 */
import { DurastateError } from '../../providers/errors.js';

export class Output {
  constructor(readonly json: boolean) {}

  /** Print the command's result: `value` as JSON, or the human text. */
  result(value: unknown, human: () => string): void {
    process.stdout.write(this.json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
  }

  /** A progress note for people; silent with --json so stdout stays one document. */
  note(text: string): void {
    if (!this.json) process.stderr.write(`${text}\n`);
  }

  error(err: unknown): void {
    const { code, message, details } = describeError(err);
    if (this.json) process.stdout.write(`${JSON.stringify({ error: { code, message, details } })}\n`);
    else process.stderr.write(`durastate: ${code}: ${message}\n`);
  }
}

function describeError(err: unknown): { code: string; message: string; details: Record<string, unknown> } {
  if (err instanceof DurastateError) return { code: err.code, message: err.message, details: err.info };
  // Not one of ours (a driver or system error): keep its own code when it has one.
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : 'UNEXPECTED';
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return { code, message, details: typeof e?.name === 'string' ? { name: e.name } : {} };
}
