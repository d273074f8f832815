import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertJsonSafe } from './json-safety.js';

function failure(value: unknown, maxBytes?: number): { code: string; info: { path?: string; reason?: string } } {
  try {
    assertJsonSafe(value, 'context', maxBytes);
  } catch (e) {
    return e as { code: string; info: { path?: string; reason?: string } };
  }
  throw new Error('expected assertJsonSafe to throw');
}

class Money {
  amount = 1;
}

test('plain JSON values pass, including shared (non-cyclic) references and undefined properties', () => {
  const shared = { a: 1 };
  assertJsonSafe({ x: shared, y: shared, s: 'é', n: -1.5, b: true, z: null, u: undefined, arr: [1, [2]], o: Object.create(null) }, 'context');
  assertJsonSafe('plain', 'context');
});

test('each unsafe value is named by its path', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ order: { createdAt: new Date(0) } }, 'context.order.createdAt', /Date/],
    [{ m: new Map() }, 'context.m', /Map/],
    [{ s: new Set() }, 'context.s', /Set/],
    [{ f: () => 1 }, 'context.f', /function/],
    [{ list: [1, undefined] }, 'context.list[1]', /undefined/],
    [{ n: NaN }, 'context.n', /finite/],
    [{ n: Infinity }, 'context.n', /finite/],
    [{ big: 1n }, 'context.big', /BigInt/],
    [{ money: new Money() }, 'context.money', /Money/],
    [{ e: new Error('x') }, 'context.e', /Error/],
  ];
  for (const [value, path, reason] of cases) {
    const e = failure(value);
    assert.is(e.code, 'NOT_JSON_SAFE');
    assert.is(e.info.path, path);
    assert.match(String(e.info.reason), reason);
  }
});

test('cycles are detected', () => {
  const a: Record<string, unknown> = {};
  a.self = { back: a };
  const e = failure(a);
  assert.is(e.info.path, 'context.self.back');
  assert.match(String(e.info.reason), /cycle/);
});

test('the size limit counts UTF-8 bytes of the JSON text', () => {
  assertJsonSafe('ab', 'context', 4); // "ab" is 4 bytes with quotes
  assert.is(failure('abc', 4).code, 'PAYLOAD_TOO_LARGE');
  assert.is(failure('é', 3).code, 'PAYLOAD_TOO_LARGE'); // 2 bytes for é + 2 quotes
});

test.run();
