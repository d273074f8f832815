/**
 * JSON-safety for values the memory provider stores. Postgres stores payloads as jsonb, so the
 * reference model must refuse exactly what JSON cannot carry faithfully, and hand back values
 * shaped as a JSON round trip would shape them (undefined object properties dropped).
 */
import type { Json } from '../types.js';
import { NotJsonSafeError } from '../errors.js';

/** Throws NotJsonSafeError (an InvalidArgumentError) naming the first offending path. */
export function assertJson(value: unknown, what: string): asserts value is Json {
  walk(value, what, '$', new Set());
}

function walk(value: unknown, what: string, path: string, ancestors: Set<object>): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new NotJsonSafeError(what, path, `${value} is not a finite number`);
    return;
  }
  if (typeof value !== 'object') throw new NotJsonSafeError(what, path, `a ${typeof value} is not JSON`);
  if (ancestors.has(value)) throw new NotJsonSafeError(what, path, 'cyclic reference');
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      // A hole or undefined element would silently become null: refuse it.
      if (value[i] === undefined) throw new NotJsonSafeError(what, `${path}[${i}]`, 'undefined array element');
      walk(value[i], what, `${path}[${i}]`, ancestors);
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new NotJsonSafeError(what, path, `a ${value.constructor?.name ?? 'non-plain'} object is not JSON`);
    }
    for (const [key, child] of Object.entries(value)) {
      // Undefined properties are dropped by JSON (and by jsonb): allowed, as optional fields are common.
      if (child !== undefined) walk(child, what, `${path}.${key}`, ancestors);
    }
  }
  ancestors.delete(value);
}

/** Validate, then copy through JSON so the stored value shares nothing with the caller's. */
export function jsonCopy(value: unknown, what: string): Json {
  assertJson(value, what);
  return JSON.parse(JSON.stringify(value)) as Json;
}
