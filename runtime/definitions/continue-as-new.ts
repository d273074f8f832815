/**
 * continueAsNew(mapper): an action that ends the current execution and starts the next one with the
 * mapped input (fresh history, same instance). It follows XState's built-in action protocol
 * (`type` + `resolve` + `execute`, as raise/emit do) so that the pure transition() returns it as an
 * action object `{ type: 'durastate.continueAsNew', params: { input } }` with the input already
 * resolved against the step's context and event; `execute` does nothing because the engine acts on it.
 */
import type { EventObject, MachineContext } from 'xstate';
import type { Json } from '../../providers/types.js';

export const CONTINUE_AS_NEW_ACTION = 'durastate.continueAsNew';

export interface ContinueAsNewParams {
  input: Json;
}

export function continueAsNew<TContext extends MachineContext, TEvent extends EventObject>(
  inputMapper: (args: { context: TContext; event: TEvent }) => Json,
): (args: { context: TContext; event: TEvent }, params: unknown) => void {
  const action = (_args: { context: TContext; event: TEvent }, _params: unknown): void => {};
  return Object.assign(action, {
    type: CONTINUE_AS_NEW_ACTION,
    resolve: (_scope: unknown, snapshot: unknown, args: { context: TContext; event: TEvent }): [unknown, ContinueAsNewParams] => [
      snapshot,
      { input: inputMapper({ context: args.context, event: args.event }) },
    ],
    execute: (): void => {},
  });
}
