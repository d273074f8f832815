/**
 * Read-only views of a machine's structure, shared by the registration checks and the definition hash.
 * They read XState's StateNode objects (public fields: id, type, states, entry, exit, transitions,
 * always, config) and describe actions and guards by name, never by running them.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { Json } from '../../providers/types.js';

/** Every state node of the machine, root first, children in declaration order. */
export function* walkStateNodes(machine: AnyStateMachine): Generator<AnyStateNode> {
  const stack: AnyStateNode[] = [machine.root];
  while (stack.length > 0) {
    const node = stack.shift()!;
    yield node;
    stack.unshift(...Object.values(node.states as Record<string, AnyStateNode>));
  }
}

/** Every action list of a node (entry, exit, each transition's actions, eventless and initial transitions). */
export function* actionListsOf(node: AnyStateNode): Generator<{ where: string; actions: readonly unknown[] }> {
  yield { where: 'entry', actions: node.entry };
  yield { where: 'exit', actions: node.exit };
  for (const [eventType, transitions] of node.transitions as Map<string, Array<{ actions: readonly unknown[] }>>) {
    for (const t of transitions) yield { where: `on '${eventType}'`, actions: t.actions };
  }
  for (const t of (node.always ?? []) as Array<{ actions: readonly unknown[] }>) yield { where: 'always', actions: t.actions };
}

/** The raw invoke configs of a node as the user wrote them (XState fills in ids, so read the config). */
export function invokeConfigsOf(node: AnyStateNode): Array<Record<string, unknown>> {
  const raw = (node.config as { invoke?: unknown }).invoke;
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw]) as Array<Record<string, unknown>>;
}

/** Properties XState's built-in action creators carry on the action function (spawnChild, raise, cancel...). */
export interface BuiltinActionFields {
  type?: string;
  id?: unknown;
  src?: unknown;
  delay?: unknown;
}

/** A stable description of an action: its type, and for built-ins the static id/src/delay when they are plain values. */
export function describeAction(action: unknown): Json {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const fn = action as BuiltinActionFields & { name: string };
    if (typeof fn.type !== 'string') return `inline:${fn.name}`;
    const out: Record<string, Json> = { type: fn.type };
    for (const key of ['id', 'src', 'delay'] as const) {
      const v = fn[key];
      if (typeof v === 'string' || typeof v === 'number') out[key] = v;
      else if (v !== undefined) out[key] = typeof v;
    }
    return out;
  }
  if (typeof action === 'object' && action !== null) {
    const { type, params } = action as { type?: unknown; params?: unknown };
    return { type: String(type), params: describeStatic(params) };
  }
  return String(action);
}

/** A guard by name (inline guard functions by their function name only). */
export function describeGuard(guard: unknown): Json {
  if (guard === undefined) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    return `inline:${(guard as { name: string }).name}`;
  }
  if (typeof guard === 'object' && guard !== null) {
    const { type, params } = guard as { type?: unknown; params?: unknown };
    return { type: String(type), params: describeStatic(params) };
  }
  return String(guard);
}

/** Plain JSON values as they are; functions (evaluated at run time) as a marker. */
function describeStatic(value: unknown): Json {
  if (typeof value === 'function') return 'fn';
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as Json;
  } catch {
    return 'unserialisable';
  }
}
