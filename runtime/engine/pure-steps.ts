/**
 * XState's pure stepping (initialTransition, transition, restoring a persisted snapshot) without the
 * work xstate's own helpers throw away on every call.
 *
 * `transition()` and `initialTransition()` build a throwaway inert actor scope per call with
 * `createActor(machine)`, and the Actor constructor eagerly computes the machine's initial snapshot:
 * it enters the initial states, runs the context factory (with no input) and creates an actor for
 * every initial invoke, only to discard all of it. In the throughput benchmark that was 7% of the
 * process's CPU time (plus the garbage). Here one inert actor per machine serves every step, with
 * the same scope xstate builds (no deferred effects, no emits, actions collected, never executed),
 * and the steps call the machine's own ActorLogic methods: `getInitialSnapshot`, `transition`,
 * `restoreSnapshot`.
 *
 * xstate gives each call a fresh actor system so that children spawned with a `systemId` never
 * collide with those of an earlier call. A system in which no actor is registered under a systemId
 * cannot collide with anything, so the shared actor keeps its system until one is registered, and
 * gets a clean one (from a trivial actor) before the next step.
 */
import {
  createActor, fromTransition, type AnyActorRef, type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine, type EventObject,
} from 'xstate';
import { outsideSteps } from '../definitions/deterministic.js';

export type StepActions = Array<{ type: string; params?: unknown; exec?: unknown }>;

const inertActors = new WeakMap<AnyStateMachine, AnyActorRef>();
const noop = () => {};
/** An actor whose construction registers nothing: the source of clean systems. */
const SYSTEM_SOURCE = fromTransition((state: null) => state, null);

function inertActorOf(machine: AnyStateMachine): AnyActorRef {
  let self = inertActors.get(machine);
  if (self === undefined) {
    // Once per machine: the eager initial snapshot xstate's helpers compute on every call. It is
    // thrown away, so it must not draw uuid()s from the step that happens to need the actor first
    // (a replay in a process that already has it would draw different ones).
    self = outsideSteps(() => createActor(machine)) as AnyActorRef;
    inertActors.set(machine, self);
  }
  if (Object.keys(self.system.getAll()).length > 0) {
    // xstate's createInertActorScope swaps the system of its actor the same way.
    (self as { system: AnyActorRef['system'] }).system = createActor(SYSTEM_SOURCE).system;
  }
  return self;
}

function inertScope(machine: AnyStateMachine, actions: StepActions): AnyActorScope {
  const self = inertActorOf(machine);
  return {
    self,
    id: '',
    sessionId: '',
    logger: noop,
    defer: noop,
    emit: noop,
    stopChild: noop,
    system: self.system,
    actionExecutor: (action) => {
      actions.push(action as StepActions[number]);
    },
  };
}

/** `initialTransition(machine, input)`: the initial snapshot and the actions to execute, none executed. */
export function initialStep(machine: AnyStateMachine, input: unknown): [AnyMachineSnapshot, StepActions] {
  const actions: StepActions = [];
  const snapshot = machine.getInitialSnapshot(inertScope(machine, actions), input) as AnyMachineSnapshot;
  return [snapshot, actions];
}

/** `transition(machine, snapshot, event)`: the next snapshot and the actions to execute, none executed. */
export function transitionStep(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): [AnyMachineSnapshot, StepActions] {
  const actions: StepActions = [];
  const next = machine.transition(snapshot, event, inertScope(machine, actions)) as AnyMachineSnapshot;
  return [next, actions];
}

/** A persisted snapshot made ready for `transitionStep`, nothing started (what `createActor(machine, { snapshot })` does). */
export function restoreStep(machine: AnyStateMachine, persisted: unknown): AnyMachineSnapshot {
  return machine.restoreSnapshot(persisted as never, inertScope(machine, [])) as AnyMachineSnapshot;
}
