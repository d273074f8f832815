/**
 * Registration checks: everything a machine invokes or spawns must be a durastate placeholder under
 * an explicit id, so that results can be routed back by id and ids are stable across replays.
 *
 * Detected statically: `invoke` configs (id present, string src, src registered in setup({ actors })
 * as activity()/orchestration()); `spawnChild(...)` action creators in entry/exit/transitions/always
 * (same rules).
 * Not detectable statically: `spawn(...)` inside `assign`, and spawns inside `enqueueActions`. The
 * engine checks those at run time (a child whose id XState generated, or whose src is not a
 * placeholder, fails the instance with InvalidDefinitionError).
 */
import type { AnyStateMachine } from 'xstate';
import { InvalidDefinitionError } from '../errors.js';
import { actionListsOf, invokeConfigsOf, walkStateNodes, type BuiltinActionFields } from './machine-structure.js';
import { readPlaceholder } from './placeholders.js';

export function validateMachine(name: string, machine: AnyStateMachine): void {
  const actors = (machine.implementations.actors ?? {}) as Record<string, unknown>;
  const checkSrc = (src: unknown, stateId: string, what: string): void => {
    if (typeof src !== 'string') {
      throw new InvalidDefinitionError(`orchestration '${name}', state '${stateId}': ${what} needs a string src naming an actor of setup({ actors })`, { name, stateId });
    }
    if (!readPlaceholder(actors[src])) {
      throw new InvalidDefinitionError(
        `orchestration '${name}', state '${stateId}': ${what} src '${src}' is not an activity(), fanOut() or orchestration() placeholder in setup({ actors })`,
        { name, stateId, src },
      );
    }
  };
  for (const node of walkStateNodes(machine)) {
    invokeConfigsOf(node).forEach((inv, index) => {
      if (typeof inv.id !== 'string' || inv.id.length === 0) {
        throw new InvalidDefinitionError(`orchestration '${name}', state '${node.id}': invoke #${index} needs an explicit id`, { name, stateId: node.id, index });
      }
      checkSrc(inv.src, node.id, `invoke '${inv.id}'`);
    });
    for (const { where, actions } of actionListsOf(node)) {
      for (const action of actions) {
        const fields = (typeof action === 'function' ? action : {}) as BuiltinActionFields;
        if (fields.type !== 'xstate.spawnChild') continue;
        if (typeof fields.id !== 'string' || fields.id.length === 0) {
          throw new InvalidDefinitionError(`orchestration '${name}', state '${node.id}': spawnChild in ${where} needs an explicit string id`, { name, stateId: node.id });
        }
        checkSrc(fields.src, node.id, `spawnChild '${fields.id}'`);
      }
    }
  }
}
