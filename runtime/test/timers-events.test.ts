/** Durable timers, external events and emitted events (client.subscribe) end to end on PostgreSQL. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, emit, setup } from 'xstate';
import type { EmittedEventMeta } from '../client/emitted-events.js';
import { defineOrchestration } from '../definitions/index.js';
import { useHarness } from './support/harness.js';

const h = useHarness(test);

test('an `after` delay is a durable timer that fires and moves the machine on', async () => {
  const def = defineOrchestration('nap', setup({}).createMachine({
    initial: 'sleeping',
    states: { sleeping: { after: { 200: 'awake' } }, awake: { type: 'final' } },
  }));
  await h.runtime({ orchestrations: [def] });
  const { instanceId } = await h.client.start(def, null);
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.status, 'completed');
  assert.is(final.stateValue, 'awake');
  const kinds: string[] = [];
  for await (const e of h.client.history(instanceId)) if (e.type === 'event') kinds.push((e.data as { kind: string }).kind);
  assert.equal(kinds, ['timerFired']);
});

test('a timer that is left behind is cancelled and never fires', async () => {
  const def = defineOrchestration('escape', setup({ types: {} as { events: { type: 'GO' } } }).createMachine({
    initial: 'waiting',
    states: { waiting: { after: { 60_000: 'timedOut' }, on: { GO: 'went' } }, timedOut: { type: 'final' }, went: { type: 'final' } },
  }));
  await h.runtime({ orchestrations: [def] });
  const { instanceId } = await h.client.start(def, null);
  await h.client.raiseEvent(instanceId, { type: 'GO' });
  const final = await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  assert.is(final.stateValue, 'went');
  const depths = await h.provider.queueDepths();
  assert.is(depths.orchestrator.delayed, 0, 'the 60 s timer was deleted');
});

test('external events are applied in order with their payloads', async () => {
  const def = defineOrchestration('approval', setup({
    types: {} as { context: { notes: string[] }; events: { type: 'NOTE'; text: string } | { type: 'APPROVE'; by: string }; output: { notes: string[]; by: string } },
  }).createMachine({
    context: { notes: [] },
    initial: 'waiting',
    states: {
      waiting: {
        on: {
          NOTE: { actions: assign({ notes: ({ context, event }) => [...context.notes, event.text] }) },
          APPROVE: { target: 'approved', actions: assign({ notes: ({ context, event }) => [...context.notes, `approved by ${event.by}`] }) },
        },
      },
      approved: { type: 'final' },
    },
    output: ({ context }) => ({ notes: context.notes, by: context.notes.at(-1) ?? '' }),
  }));
  await h.runtime({ orchestrations: [def] });
  const { instanceId } = await h.client.start(def, null);
  await h.client.raiseEvent<typeof def>(instanceId, { type: 'NOTE', text: 'one' });
  await h.client.raiseEvent<typeof def>(instanceId, { type: 'NOTE', text: 'two' });
  await h.client.raiseEvent<typeof def>(instanceId, { type: 'APPROVE', by: 'ann' });
  const final = await h.client.waitForCompletion<typeof def>(instanceId, { timeoutMs: 20_000 });
  assert.equal(final.output?.notes, ['one', 'two', 'approved by ann']);
});

test('emitted events reach subscribers in order, each once', async () => {
  const def = defineOrchestration('pinger', setup({
    types: {} as { context: { n: number }; events: { type: 'PING' } | { type: 'DONE' }; emitted: { type: 'PONG'; n: number } },
  }).createMachine({
    context: { n: 0 },
    initial: 'on',
    states: {
      on: {
        on: {
          PING: { actions: [assign({ n: ({ context }) => context.n + 1 }), emit(({ context }) => ({ type: 'PONG' as const, n: context.n }))] },
          DONE: 'off',
        },
      },
      off: { type: 'final' },
    },
  }));
  await h.runtime({ orchestrations: [def] });
  const { instanceId } = await h.client.start(def, null, { instanceId: 'pinger-1' });
  const received: Array<{ n: number; meta: EmittedEventMeta }> = [];
  let gotThree!: () => void;
  const three = new Promise<void>((resolve) => (gotThree = resolve));
  const unsubscribe = h.client.subscribe<typeof def>(instanceId, (event, meta) => {
    received.push({ n: event.n, meta });
    if (received.length === 3) gotThree();
  });
  for (let i = 0; i < 3; i++) await h.client.raiseEvent(instanceId, { type: 'PING' });
  await h.client.raiseEvent(instanceId, { type: 'DONE' });
  await h.client.waitForCompletion(instanceId, { timeoutMs: 20_000 });
  await three;
  // A later subscription replays the execution's emitted events from its start, also once each.
  const replayed: number[] = [];
  let gotReplay!: () => void;
  const replay = new Promise<void>((resolve) => (gotReplay = resolve));
  const unsubscribe2 = h.client.subscribe<typeof def>(instanceId, (event) => {
    replayed.push(event.n);
    if (replayed.length === 3) gotReplay();
  });
  await replay;
  unsubscribe();
  unsubscribe2();
  assert.equal(received.map((r) => r.n), [1, 2, 3]);
  assert.ok(received.every((r) => r.meta.instanceId === 'pinger-1' && r.meta.executionId === 1));
  assert.equal(replayed, [1, 2, 3]);
});

test.run();
