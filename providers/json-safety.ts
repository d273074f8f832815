/**
 * JSON safety: everything the engine stores (context, output, events, activity inputs) must survive
 * JSON.stringify/parse unchanged, or replays and readers would see something else than the machine did.
 * XState copies context as-is into persisted snapshots (a Date becomes a string, a Map becomes {}),
 * so the engine checks values itself and names the first offending path.
 */
import type { Json } from './types.js';
import { NotJsonSafeError, PayloadTooLargeError } from './errors.js';

/**
 * Throws NotJsonSafeError naming the path (`what.a.b[2]`) of the first value JSON cannot carry
 * faithfully, or PayloadTooLargeError when the serialised size exceeds `maxBytes`.
 * Accepted: null, booleans, finite numbers, strings, arrays, plain objects (prototype Object or null).
 * Object properties that are `undefined` are accepted (JSON drops them, like a missing key).
 */
export function assertJsonSafe(value: unknown, what: string, maxBytes?: number): asserts value is Json {
  // Every stored value passes here, often twice: the walk that names paths costs a string per
  // node, so it only runs to word the error once the cheap walk has found one.
  if (!isJsonSafe(value, [])) check(value, what, what, new Set());
  if (maxBytes !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
    if (bytes > maxBytes) throw new PayloadTooLargeError(what, bytes, maxBytes);
  }
}

/** What check accepts, without paths; `ancestors` is the current branch (shallow: a list beats a Set). */
function isJsonSafe(value: unknown, ancestors: object[]): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (ancestors.includes(value)) return false;
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isJsonSafe(value[i], ancestors)) return false;
  } else {
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== Object.prototype && proto !== null) return false;
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined && !isJsonSafe(v, ancestors)) return false;
    }
  }
  ancestors.pop();
  return true;
}

function check(value: unknown, what: string, path: string, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new NotJsonSafeError(what, path, `${value} is not a finite number`);
      return;
    case 'undefined':
      throw new NotJsonSafeError(what, path, 'undefined');
    case 'bigint':
      throw new NotJsonSafeError(what, path, 'a BigInt');
    case 'symbol':
      throw new NotJsonSafeError(what, path, 'a Symbol');
    case 'function':
      throw new NotJsonSafeError(what, path, 'a function');
  }
  if (value === null) return;
  const obj = value as object;
  if (ancestors.has(obj)) throw new NotJsonSafeError(what, path, 'a cycle');
  ancestors.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => check(item, what, `${path}[${i}]`, ancestors));
  } else {
    const proto = Object.getPrototypeOf(obj) as object | null;
    if (proto !== Object.prototype && proto !== null) {
      const kind = (obj.constructor as { name?: string } | undefined)?.name || 'a class instance';
      throw new NotJsonSafeError(what, path, `a ${kind} (only plain objects are allowed)`);
    }
    for (const [key, v] of Object.entries(obj)) {
      if (v !== undefined) check(v, what, `${path}.${key}`, ancestors);
    }
  }
  ancestors.delete(obj);
}

/** Validate, then copy through JSON so the result shares nothing with the caller's value. */
export function jsonCopy(value: unknown, what: string): Json {
  assertJsonSafe(value, what);
  return JSON.parse(JSON.stringify(value)) as Json;
}
