/**
 * The engine's pure steps produce exactly what xstate's own initialTransition()/transition() produce
 * (the same persisted snapshots, the same actions), without computing the machine's initial snapshot
 * again on every step, and still give children spawned with a systemId a system of their own.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assign, createActor, initialTransition, setup, transition, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';
import { activity } from '../definitions/placeholders.js';
import { defineActivity } from '../definitions/activity-definition.js';
import { counterMachine, orderMachine } from './test-machines.js';
import { uuid, withStepContext } from '../definitions/deterministic.js';
import { initialStep, restoreStep, transitionStep, type StepActions } from './pure-steps.js';

const job = activity(defineActivity('job', async (n: number) => n));

/** Actions as comparable JSON: a stopped child is an ActorRef, of which only the id matters. */
function actionsJson(actions: readonly { type: string; params?: unknown }[]): string {
  return JSON.stringify(actions.map((a) => {
    const p = a.params as { id?: unknown; src?: unknown; input?: unknown; event?: unknown; delay?: unknown; sendId?: unknown } | undefined;
    if (a.type === 'xstate.stopChild') return { type: a.type, id: (p as { id?: string } | undefined)?.id };
    if (a.type === 'xstate.spawnChild') return { type: a.type, id: p?.id, src: p?.src, input: p?.input };
    return { type: a.type, params: p === undefined ? null : { event: p.event, delay: p.delay, id: p.id, sendId: p.sendId } };
  }));
}

const persisted = (machine: AnyStateMachine, s: AnyMachineSnapshot) => JSON.stringify(machine.getPersistedSnapshot(s));

/** Both sides of a comparison see the same now() and uuid() (machine code may call them). */
const at = <T>(seq: number, fn: () => T): T => withStepContext({ instanceId: 'same-run', executionId: 1, seq, now: 1_700_000_000_000 + seq }, fn);

/** Runs the same input and events through both and asserts they agree at every step. */
function assertSameRun(machine: AnyStateMachine, input: unknown, events: EventObject[]): void {
  let [ours, ourActions] = at(0, () => initialStep(machine, input));
  let [theirs, theirActions] = at(0, () => initialTransition(machine, input) as [AnyMachineSnapshot, StepActions]);
  assert.is(persisted(machine, ours), persisted(machine, theirs), 'initial snapshot');
  assert.is(actionsJson(ourActions), actionsJson(theirActions), 'initial actions');
  for (const [i, event] of events.entries()) {
    [ours, ourActions] = at(i + 1, () => transitionStep(machine, ours, event));
    [theirs, theirActions] = at(i + 1, () => transition(machine, theirs, event) as [AnyMachineSnapshot, StepActions]);
    assert.is(persisted(machine, ours), persisted(machine, theirs), `snapshot after event #${i} ${event.type}`);
    assert.is(actionsJson(ourActions), actionsJson(theirActions), `actions of event #${i} ${event.type}`);
  }
}

test('pure steps give the snapshots and actions xstate gives: activity, timer, emit, named action, final', () => {
  assertSameRun(orderMachine, { amount: 5 }, [
    { type: 'xstate.done.actor.charge1', output: { receiptId: 'r-5' }, actorId: 'charge1' } as EventObject,
    { type: 'APPROVE' },
  ]);
  assertSameRun(orderMachine, { amount: 6 }, [{ type: 'REJECT' }]);
});

test('pure steps give the snapshots and actions xstate gives: re-entered timers and continue-as-new', () => {
  assertSameRun(counterMachine, { total: 1 }, [
    { type: 'NEXT' },
    { type: 'xstate.after.60000.counter.counting' },
    { type: 'NEXT' },
  ]);
});

test('a restored snapshot continues like the live one it was persisted from', () => {
  const [live] = initialStep(orderMachine, { amount: 9 });
  const restored = restoreStep(orderMachine, JSON.parse(persisted(orderMachine, live)));
  const done = { type: 'xstate.done.actor.charge1', output: { receiptId: 'r-9' }, actorId: 'charge1' } as EventObject;
  const [fromLive, liveActions] = transitionStep(orderMachine, live, done);
  const [fromRestored, restoredActions] = transitionStep(orderMachine, restored, done);
  assert.is(persisted(orderMachine, fromRestored), persisted(orderMachine, fromLive));
  assert.is(actionsJson(restoredActions), actionsJson(liveActions));
  // And like xstate's own restore.
  const theirs = createActor(orderMachine, { snapshot: JSON.parse(persisted(orderMachine, live)) } as never).getSnapshot() as AnyMachineSnapshot;
  assert.is(persisted(orderMachine, restored), persisted(orderMachine, theirs));
});

test('the machine initial snapshot is computed once per machine, not once per step', () => {
  let initialContexts = 0;
  const machine = setup({ types: {} as { context: { n: number }; events: { type: 'INC' } } }).createMachine({
    context: () => {
      initialContexts++;
      return { n: 0 };
    },
    on: { INC: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
  });
  let [s] = initialStep(machine, undefined);
  const afterFirst = initialContexts; // the initial step itself, plus the shared inert actor's one eager computation
  for (let i = 0; i < 20; i++) [s] = transitionStep(machine, s, { type: 'INC' });
  assert.is(s.context.n, 20);
  assert.is(initialContexts, afterFirst, 'no initial snapshot per transition');
  // xstate's own transition() computes one per call: what the engine no longer pays.
  transition(machine, s, { type: 'INC' });
  assert.is(initialContexts, afterFirst + 1);
});

test("a machine that draws uuid() while entering its initial state draws the same ones in a process's first step of it and in later ones", () => {
  const machine = setup({ types: {} as { context: { ids: string[] } } }).createMachine({ context: () => ({ ids: [uuid(), uuid()] }) });
  // The first step of a machine in a process also makes its shared inert actor (an eager initial snapshot).
  const [first] = at(0, () => initialStep(machine, undefined));
  const [again] = at(0, () => initialStep(machine, undefined));
  assert.equal(first.context.ids, again.context.ids);
  assert.is.not(first.context.ids[0], first.context.ids[1]);
});

test('a child spawned with a systemId can be spawned again by a later step (each step gets a clean actor system)', () => {
  const machine = setup({ types: {} as { events: { type: 'AGAIN' } }, actors: { job } }).createMachine({
    initial: 'working',
    states: {
      working: {
        invoke: { id: 'j', src: 'job', systemId: 'the-job', input: 1 },
        on: { AGAIN: { target: 'working', reenter: true } },
      },
    },
  });
  let [s, actions] = initialStep(machine, undefined);
  assert.equal(actions.filter((a) => a.type === 'xstate.spawnChild').length, 1);
  for (let i = 0; i < 3; i++) {
    [s, actions] = transitionStep(machine, s, { type: 'AGAIN' });
    assert.equal(actions.map((a) => a.type).filter((t) => t.endsWith('Child')), ['xstate.stopChild', 'xstate.spawnChild'], `re-entry #${i}`);
  }
  assertSameRun(machine, undefined, [{ type: 'AGAIN' }, { type: 'AGAIN' }]);
});

test.run();
