/**
 * Opaque page cursors: the sort key of the last item returned, as base64url JSON. Callers must
 * treat them as opaque; a string that does not decode to the expected key is InvalidArgumentError.
 */
import { InvalidArgumentError } from './errors.js';

export function encodeCursor(key: Array<string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** `shape` lists the expected type of each key part, e.g. ['number', 'string']. */
export function decodeCursor(cursor: string, shape: Array<'string' | 'number'>): Array<string | number> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || key.length !== shape.length || key.some((part, i) => typeof part !== shape[i])) {
    throw new InvalidArgumentError('page cursor is not one this provider issued', { cursor });
  }
  return key as Array<string | number>;
}
