/**
 * Gathering what the checks need, after the dispatchers have stopped: every instance of the run's
 * schema with the history of all its executions, the run log, the queue depths, queued starts, and
 * the replay of every current execution through the engine's own replay function.
 */
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { replayHistory, type HistoryEvent, type InstanceRecord, type OrchestrationDefinition, type Provider } from '../runtime/index.js';
import type { Observations, ObservedInstance, ReplayOutcome } from './checks.js';
import { readRunLog } from './run-log.js';
import type { PlannedInstance } from './workloads/plan.js';

export async function listAllInstances(provider: Provider): Promise<InstanceRecord[]> {
  const all: InstanceRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await provider.listInstances({}, { cursor, limit: 500 });
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

async function readAllHistory(provider: Provider, record: InstanceRecord): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for (let executionId = 1; executionId <= record.executionId; executionId++) {
    for await (const e of provider.readHistory(record.instanceId, { executionId })) events.push(e);
  }
  return events;
}

/** The stored snapshot and context went through jsonb: compare with the replayed ones as JSON too. */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? 'null');

function replayOne(definitions: ReadonlyMap<string, OrchestrationDefinition>, record: InstanceRecord, history: HistoryEvent[]): ReplayOutcome {
  const definition = definitions.get(record.name);
  if (!definition) return { instanceId: record.instanceId, problem: `no definition named ${record.name}` };
  try {
    const current = history.filter((h) => h.executionId === record.executionId);
    const replayed = replayHistory(definition, current);
    const differs = [
      isDeepStrictEqual(asJson(replayed.snapshot), record.snapshot) ? null : 'snapshot',
      isDeepStrictEqual(asJson(replayed.context), record.context) ? null : 'context',
      replayed.status === record.status ? null : `status (replayed ${replayed.status}, stored ${record.status})`,
      isDeepStrictEqual(asJson(replayed.output), record.output) ? null : 'output',
    ].filter((d) => d !== null);
    return { instanceId: record.instanceId, problem: differs.length ? `replay differs in ${differs.join(', ')}` : null };
  } catch (err) {
    return { instanceId: record.instanceId, problem: `replay failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export async function collectObservations(opts: {
  provider: Provider;
  pool: pg.Pool;
  schema: string;
  plan: readonly PlannedInstance[];
  definitions: readonly OrchestrationDefinition[];
}): Promise<Observations> {
  const { provider } = opts;
  const definitions = new Map(opts.definitions.map((d) => [d.name, d]));
  const records = await listAllInstances(provider);
  const instances: ObservedInstance[] = [];
  const replays: ReplayOutcome[] = [];
  for (const record of records) {
    const history = await readAllHistory(provider, record);
    instances.push({ instanceId: record.instanceId, name: record.name, status: record.status, output: record.output, executionId: record.executionId, history });
    replays.push(replayOne(definitions, record, history));
  }
  const known = new Set(records.map((r) => r.instanceId));
  const pendingStarts: string[] = [];
  for (const p of opts.plan) if (!known.has(p.instanceId) && (await provider.hasPendingStart(p.instanceId))) pendingStarts.push(p.instanceId);
  return { instances, runs: await readRunLog(opts.pool, opts.schema), depths: await provider.queueDepths(), pendingStarts, replays };
}
