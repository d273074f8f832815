/**
 * The definition hash: a digest of a canonical description of the machine's structure, stored with
 * every snapshot. When the registered definition's hash differs from the stored one, the engine does
 * not trust the snapshot and rebuilds it by replaying history (which also checks determinism).
 *
 * Covered: machine id; every state node's id, type, initial state, history type and child order;
 * entry/exit actions and transitions (event type, targets, guard, reenter, action types and static
 * params); eventless transitions; `after` delays (numbers, and named delays with their numeric value
 * from setup); invokes (id, src, and what the src stands for: activity name or orchestration
 * name/version); named actions/guards declared in setup (by name).
 *
 * Not covered: the bodies of functions (guards, assign/input/output mappers, context factory, delay
 * functions, setup action implementations), because their source text is not a reliable identity.
 * A change confined to such code keeps the hash: ship it as a new version (defineOrchestration's
 * `version`) when running instances must not pick it up.
 */
import { createHash } from 'node:crypto';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { Json } from '../../providers/types.js';
import { canonicalJson } from './canonical-json.js';
import { actionListsOf, describeAction, describeGuard, invokeConfigsOf, walkStateNodes } from './machine-structure.js';
import { readPlaceholder } from './placeholders.js';

export function definitionHash(machine: AnyStateMachine): string {
  return createHash('sha256').update(canonicalJson(describeMachine(machine))).digest('hex').slice(0, 32);
}

/** The canonical description the hash is computed from (exported for tests and diagnostics). */
export function describeMachine(machine: AnyStateMachine): Json {
  const actors = (machine.implementations.actors ?? {}) as Record<string, unknown>;
  const delays = (machine.implementations.delays ?? {}) as Record<string, unknown>;
  const nodes: Json[] = [];
  for (const node of walkStateNodes(machine)) nodes.push(describeNode(node, actors));
  const namedDelays: Record<string, Json> = {};
  for (const [name, value] of Object.entries(delays)) namedDelays[name] = typeof value === 'number' ? value : 'fn';
  return { id: machine.id, nodes, delays: namedDelays };
}

function describeNode(node: AnyStateNode, actors: Record<string, unknown>): Json {
  const config = node.config as { initial?: unknown };
  const actionLists: Json[] = [];
  for (const { where, actions } of actionListsOf(node)) actionLists.push({ where, actions: actions.map(describeAction) });
  const transitions: Json[] = [];
  for (const [eventType, list] of node.transitions as Map<string, TransitionView[]>) {
    for (const t of list) transitions.push({ event: eventType, ...describeTransition(t) });
  }
  for (const t of (node.always ?? []) as TransitionView[]) transitions.push({ event: '', ...describeTransition(t) });
  return {
    id: node.id,
    type: node.type,
    initial: typeof config.initial === 'string' ? config.initial : null,
    history: node.history === false ? null : String(node.history),
    children: Object.keys(node.states),
    actions: actionLists,
    transitions,
    invoke: invokeConfigsOf(node).map((inv) => {
      const src = inv.src;
      const info = typeof src === 'string' ? readPlaceholder(actors[src]) : undefined;
      return {
        id: typeof inv.id === 'string' ? inv.id : null,
        src: typeof src === 'string' ? src : typeof src,
        stands: info ? { kind: info.kind, name: info.name, version: info.kind === 'orchestration' ? (info.version ?? null) : null } : null,
      };
    }),
  };
}

interface TransitionView {
  target?: readonly AnyStateNode[];
  guard?: unknown;
  reenter?: boolean;
}

function describeTransition(t: TransitionView): Record<string, Json> {
  return {
    target: (t.target ?? []).map((n) => n.id),
    guard: describeGuard(t.guard),
    reenter: Boolean(t.reenter),
  };
}
