/**
 * Types that flow from a definition's machine to the client's methods: pass the definition (or its
 * type) and input, events, output, context and emitted events are checked; without one they are JSON.
 */
import type { AnyStateMachine, ContextFrom, EmittedFrom, EventFromLogic, InputFrom, OutputFrom } from 'xstate';
import type { Json } from '../../providers/types.js';
import type { OrchestrationDefinition } from '../definitions/orchestration-definition.js';

type MachineOf<D> = D extends OrchestrationDefinition<infer M> ? M : never;
/** `any` (the untyped default definition) falls back to JSON instead of switching checks off. */
type OrJson<T> = 0 extends 1 & T ? Json : T;

export type AnyDefinition = OrchestrationDefinition<AnyStateMachine>;
export type InputOf<D extends AnyDefinition> = OrJson<InputFrom<MachineOf<D>>>;
export type OutputOf<D extends AnyDefinition> = OrJson<OutputFrom<MachineOf<D>>>;
export type ContextOf<D extends AnyDefinition> = OrJson<ContextFrom<MachineOf<D>>>;
export type EventOf<D extends AnyDefinition> = 0 extends 1 & EventFromLogic<MachineOf<D>> ? { type: string; [key: string]: Json } : EventFromLogic<MachineOf<D>>;
export type EmittedOf<D extends AnyDefinition> = 0 extends 1 & EmittedFrom<MachineOf<D>> ? Json : EmittedFrom<MachineOf<D>>;
