/**
 * Named custom actions of a machine (`setup({ actions: { notify: ... } })`) never run inside a turn:
 * the engine returns them, and they run here once the turn has committed. Best effort by design:
 * a crash between the commit and this call skips them, and a failure is only logged. Effects that
 * must happen belong in activities.
 */
import type { Logger } from 'pino';
import type { Json } from '../../providers/contract.js';
import type { AfterCommitAction } from '../engine/api.js';
import type { OrchestrationDefinition } from '../definitions/orchestration-definition.js';

/** What an after-commit action receives as its first argument (in place of XState's live action args). */
export interface AfterCommitArgs {
  instanceId: string;
  executionId: number;
  /** The machine context as committed by the turn. */
  context: Json;
  logger: Logger;
}

type ActionImplementation = (args: AfterCommitArgs, params: Json) => unknown;

export async function runAfterCommitActions(
  definition: OrchestrationDefinition | undefined,
  actions: readonly AfterCommitAction[],
  args: AfterCommitArgs,
): Promise<void> {
  const implementations = (definition?.machine.implementations.actions ?? {}) as Record<string, unknown>;
  for (const action of actions) {
    const impl = implementations[action.type];
    if (typeof impl !== 'function') {
      args.logger.warn({ action: action.type }, 'after-commit action has no implementation in this process; skipped');
      continue;
    }
    try {
      await (impl as ActionImplementation)(args, action.params);
    } catch (err) {
      args.logger.error({ err, action: action.type }, 'after-commit action failed');
    }
  }
}
