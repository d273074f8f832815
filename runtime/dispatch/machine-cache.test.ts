/** MachineCache: take removes, put replaces, the least recently stored entry goes first, capacity 0 keeps nothing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResumableMachine } from '../engine/api.js';
import { MachineCache } from './machine-cache.js';

const entry = (tag: string) => ({ definitionHash: tag, persisted: null, machine: {} }) as unknown as ResumableMachine;

test('take returns the entry once; put replaces an instance entry', () => {
  const cache = new MachineCache(10);
  cache.put('a', entry('a1'));
  cache.put('a', entry('a2'));
  assert.is(cache.size, 1);
  assert.is(cache.take('a')?.definitionHash, 'a2');
  assert.is(cache.take('a'), undefined);
  assert.is(cache.size, 0);
});

test('beyond capacity the least recently stored instance is dropped', () => {
  const cache = new MachineCache(2);
  cache.put('a', entry('a'));
  cache.put('b', entry('b'));
  cache.put('a', entry('a again')); // a is now the most recent
  cache.put('c', entry('c'));
  assert.is(cache.size, 2);
  assert.is(cache.take('b'), undefined, 'b was the least recently stored');
  assert.is(cache.take('a')?.definitionHash, 'a again');
  assert.is(cache.take('c')?.definitionHash, 'c');
});

test('a cache of capacity 0 keeps nothing', () => {
  const cache = new MachineCache(0);
  cache.put('a', entry('a'));
  assert.is(cache.size, 0);
  assert.is(cache.take('a'), undefined);
});

test.run();
