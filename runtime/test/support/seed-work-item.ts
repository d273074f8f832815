/**
 * Work items exist only as part of an orchestration ack. To test the worker dispatcher without the
 * engine, this commits a hand-made turn for a bare instance whose only effect is one work item,
 * and reads results the worker enqueued back from the orchestrator queue.
 */
import type { Json, OrchestrationDelta, OrchestratorMessage, Provider } from '../../../providers/contract.js';

function emptyDelta(): Omit<OrchestrationDelta, 'instance'> {
  return { history: [], messages: [], timers: [], workItems: [], cancelTimers: [], cancelActivities: [], keepMessageIds: [], deadLetterMessageIds: [] };
}

/** `payload` replaces the usual `{ input }` (e.g. a fan-out batch). */
export async function seedWorkItem(provider: Provider, opts: { instanceId: string; name: string; input: Json; activityId?: string; payload?: Json }): Promise<void> {
  await provider.enqueueOrchestratorMessage({ instanceId: opts.instanceId, kind: 'start', payload: { name: 'seed', input: null } });
  const [item] = await provider.fetchOrchestrationItems({ lockMs: 60_000 });
  if (!item || item.instanceId !== opts.instanceId) throw new Error('seedWorkItem: expected to fetch the seeded instance');
  const delta: OrchestrationDelta = {
    ...emptyDelta(),
    instance: {
      name: 'seed', version: '1', executionId: 1, status: 'running', stateValue: 'working', context: {}, input: null,
      output: null, error: null, snapshot: null, definitionHash: 'seed', parent: null,
    },
    workItems: [{ instanceId: opts.instanceId, executionId: 1, activityId: opts.activityId ?? 'act', name: opts.name, payload: opts.payload ?? { input: opts.input } }],
  };
  await provider.ackOrchestrationItem(item.lockToken, delta);
}

/** Wait (long-polling, no sleeps) for the next result message the worker enqueued for the instance; consumes it. */
export async function nextResult(provider: Provider, instanceId: string, waitMs = 10_000): Promise<OrchestratorMessage> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const [item] = await provider.fetchOrchestrationItems({ lockMs: 60_000, waitMs: deadline - Date.now() });
    if (!item) continue;
    if (item.instanceId !== instanceId || item.messages.length !== 1 || !item.instance) {
      throw new Error(`nextResult: unexpected item ${JSON.stringify(item.messages)}`);
    }
    // Consume the result with a turn that changes nothing else, so queue depths show what is left.
    const { instance } = item;
    await provider.ackOrchestrationItem(item.lockToken, {
      ...emptyDelta(),
      instance: {
        name: instance.name, version: instance.version, executionId: instance.executionId, status: instance.status,
        stateValue: instance.stateValue, context: instance.context, input: instance.input, output: instance.output,
        error: instance.error, snapshot: instance.snapshot, definitionHash: instance.definitionHash, parent: instance.parent,
      },
    });
    return item.messages[0]!;
  }
  throw new Error(`nextResult: no result for ${instanceId} within ${waitMs} ms`);
}
