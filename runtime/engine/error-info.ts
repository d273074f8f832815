import type { ErrorInfo, Json } from '../../providers/contract.js';
import { DurastateError } from '../../providers/errors.js';

/** The stored form of anything thrown or reported as an error (Error, DurastateError, an ErrorInfo-like object, a value). */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof DurastateError) {
    return { name: err.name, message: err.message, code: err.code, details: diagnosticCopy(err.info), ...(err.stack ? { stack: err.stack } : {}) };
  }
  if (err instanceof Error) {
    return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  }
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    const e = err as Record<string, unknown>;
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: e.message as string,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(e.details !== undefined ? { details: diagnosticCopy(e.details) } : {}),
    };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : safeStringify(err), details: diagnosticCopy(err) };
}

/** A JSON copy of any value for diagnostics (what JSON.stringify keeps; unserialisable values as their string). */
export function diagnosticCopy(value: unknown): Json {
  try {
    return (JSON.parse(JSON.stringify(value) ?? 'null') as Json) ?? null;
  } catch {
    return String(value);
  }
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
