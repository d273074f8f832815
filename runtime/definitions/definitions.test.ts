import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, createMachine, fromPromise, setup, spawnChild, toPromise } from 'xstate';
import { MemoryProvider } from '../../providers/memory/index.js';
import { createRuntime } from '../runtime.js';
import { defineActivity, type ActivityDefinition } from './activity-definition.js';
import { defineOrchestration } from './orchestration-definition.js';
import { activity, fanOut, orchestration, readPlaceholder } from './placeholders.js';
import { compareVersions, createRegistry } from './registry.js';
import { DEFAULT_RETRY_POLICY, retryDelayMs } from './retry-policy.js';
import { now, uuid, withStepContext } from './deterministic.js';

const charge = defineActivity('charge', async (input: { amount: number }) => ({ receiptId: String(input.amount) }));

function code(fn: () => unknown): { code?: string; message: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

test('an invoke without an explicit id is rejected naming the state', () => {
  const m = setup({ actors: { charge: activity(charge) } }).createMachine({
    id: 'shop',
    initial: 'a',
    states: { a: { initial: 'deep', states: { deep: { invoke: { src: 'charge', input: { amount: 1 } } } } } },
  });
  const e = code(() => defineOrchestration('shop', m));
  assert.is(e.code, 'INVALID_DEFINITION');
  assert.match(e.message, /state 'shop\.a\.deep'/);
  assert.match(e.message, /explicit id/);
});

test('an invoke whose src is not a placeholder, or not a string, is rejected', () => {
  const plain = setup({ actors: { raw: fromPromise(async () => 1) } }).createMachine({ id: 'm', invoke: { id: 'r', src: 'raw' } });
  assert.match(code(() => defineOrchestration('m', plain)).message, /src 'raw' is not an activity\(\), fanOut\(\) or orchestration\(\) placeholder/);
  const inline = createMachine({ id: 'm2', invoke: { id: 'r', src: fromPromise(async () => 1) } });
  assert.match(code(() => defineOrchestration('m2', inline)).message, /state 'm2'.*string src/);
});

test('a spawnChild action without an id is rejected', () => {
  const m = setup({ actors: { charge: activity(charge) } }).createMachine({ id: 'sp', entry: spawnChild('charge', { input: { amount: 1 } }) });
  const e = code(() => defineOrchestration('sp', m));
  assert.is(e.code, 'INVALID_DEFINITION');
  assert.match(e.message, /state 'sp'.*spawnChild in entry needs an explicit string id/);
});

test('placeholders carry what they stand for and throw if XState ever starts them', async () => {
  const a = activity(charge);
  assert.equal(readPlaceholder(a), { kind: 'activity', name: 'charge', retry: { ...DEFAULT_RETRY_POLICY } });
  assert.equal(readPlaceholder(orchestration('fraud', { version: '2' })), { kind: 'orchestration', name: 'fraud', version: '2' });
  assert.equal(readPlaceholder(fanOut(charge)), { kind: 'activity', name: 'charge', retry: { ...DEFAULT_RETRY_POLICY }, fanOut: { settle: false } });
  assert.equal(readPlaceholder(fanOut(charge, { settle: true })), { kind: 'activity', name: 'charge', retry: { ...DEFAULT_RETRY_POLICY }, fanOut: { settle: true } });
  // @ts-expect-error fanOut takes an activity definition
  assert.throws(() => fanOut({ name: 'bare' }), /fanOut\(\) expects a definition made by defineActivity\(\)/);
  assert.is(readPlaceholder(fromPromise(async () => 1)), undefined);
  const actor = createActor(a, { input: { amount: 1 } });
  actor.subscribe({ error: () => {} });
  actor.start();
  const err = await toPromise(actor).catch((e: Error) => e);
  assert.match(String((err as Error).message), /must never start actors/);
});

test('the definition hash is stable and changes with the structure', () => {
  const build = (src: 'charge' | 'other', delay: number, target: 'b' | 'c') =>
    setup({ actors: { charge: activity(charge), other: activity(defineActivity('other', async (input: { amount: number }) => input)) } }).createMachine({
      id: 'h',
      initial: 'a',
      states: {
        a: { invoke: { id: 'i', src, input: { amount: 1 }, onDone: target }, after: { [delay]: 'c' } },
        b: {},
        c: { type: 'final' },
      },
    });
  const base = defineOrchestration('h', build('charge', 100, 'b')).definitionHash;
  assert.is(defineOrchestration('h', build('charge', 100, 'b')).definitionHash, base, 'same structure, same hash');
  assert.is.not(defineOrchestration('h', build('other', 100, 'b')).definitionHash, base, 'invoke src');
  assert.is.not(defineOrchestration('h', build('charge', 200, 'b')).definitionHash, base, 'delay');
  assert.is.not(defineOrchestration('h', build('charge', 100, 'c')).definitionHash, base, 'transition target');
});

test('the hash ignores function bodies (documented limit)', () => {
  const build = (limit: number) =>
    setup({ types: {} as { context: { n: number } } }).createMachine({ id: 'g', context: { n: 0 }, on: { GO: { guard: function isSmall({ context }) { return context.n < limit; }, target: '.x' } }, initial: 'x', states: { x: {} } });
  assert.is(defineOrchestration('g', build(1)).definitionHash, defineOrchestration('g', build(2)).definitionHash);
});

test('the registry returns the newest version by numeric-aware order and rejects duplicates', () => {
  const m = setup({}).createMachine({ id: 'r' });
  const defs = ['1', '2', '10', '9'].map((version) => defineOrchestration('r', m, { version }));
  const reg = createRegistry(defs);
  assert.is(reg.lookup('r')!.version, '10');
  assert.is(reg.lookup('r', '2')!.version, '2');
  assert.is(reg.lookup('r', '3'), undefined);
  assert.is(reg.lookup('missing'), undefined);
  assert.is(reg.list().length, 4);
  const e = code(() => createRegistry([defs[0]!, defineOrchestration('r', m, { version: '1' })]));
  assert.is(e.code, 'INVALID_DEFINITION');
  assert.ok(compareVersions('1.9', '1.10') < 0);
  assert.ok(compareVersions('v10', 'v2') > 0);
  assert.ok(compareVersions('2', '2.0') < 0);
  assert.is(compareVersions('a', 'a'), 0);
});

test('retryDelayMs grows exponentially, is capped and jittered within bounds', () => {
  const p = { ...DEFAULT_RETRY_POLICY };
  assert.is(retryDelayMs(p, 1, 0.5), 1000);
  assert.is(retryDelayMs(p, 2, 0.5), 2000);
  assert.is(retryDelayMs(p, 3, 0.5), 4000);
  assert.is(retryDelayMs(p, 20, 0.5), 60_000);
  assert.is(retryDelayMs(p, 1, 0), 800);
  assert.is(retryDelayMs(p, 1, 0.999999), 1200);
  assert.is(retryDelayMs({ ...p, jitter: 0 }, 2, 0), 2000);
});

test('defineActivity resolves the retry policy and validates it', () => {
  const a = defineActivity('a', async () => null, { retry: { maxAttempts: 7 } });
  assert.equal(a.retry, { ...DEFAULT_RETRY_POLICY, maxAttempts: 7 });
  assert.is(code(() => defineActivity('b', async () => null, { retry: { maxAttempts: 0 } })).code, 'INVALID_DEFINITION');
});

test('typed activities go into createRuntime({ activities }) as they are, without casts', () => {
  // Checked at compile time above all: `npm test` runs tsc first, and it rejects this file if a
  // typed definition stops fitting the runtime's list (fn is a method so that its input stays bivariant).
  const notify = defineActivity('notify', async (input: { to: string; tags: string[]; urgent?: boolean }) => ({ sent: input.tags.length }));
  const count = defineActivity('count', async (input: number[]) => input.length);
  const declared: ActivityDefinition<{ amount: number }, { receiptId: string }> = charge;
  assert.ok(createRuntime({ provider: new MemoryProvider(), activities: [declared, notify, count] }));
  const bare = async (input: { amount: number }) => ({ receiptId: String(input.amount) });
  // @ts-expect-error a bare function is not an activity definition (and createRuntime says so at run time too)
  assert.throws(() => createRuntime({ provider: new MemoryProvider(), activities: [bare] }), /defineActivity/);
});

test('now() and uuid() are deterministic inside a step and refuse to run outside one', () => {
  assert.is(code(() => now()).code, 'OUTSIDE_TURN');
  assert.is(code(() => uuid()).code, 'OUTSIDE_TURN');
  const ctx = { instanceId: 'i', executionId: 1, seq: 4, now: 123 };
  const first = withStepContext(ctx, () => [now(), uuid(), uuid()] as const);
  const again = withStepContext(ctx, () => [now(), uuid(), uuid()] as const);
  assert.equal(first, again);
  assert.is(first[0], 123);
  assert.is.not(first[1], first[2]);
  assert.is.not(withStepContext({ ...ctx, seq: 5 }, () => uuid()), first[1]);
  assert.is(code(() => now()).code, 'OUTSIDE_TURN', 'the context is cleared after the step');
});

test.run();
