/**
 * A provider may merge several activity results of one instance into one 'activityResults' message
 * (contract: ackWorkItem). A turn applies such a message as its results, one after the other, each
 * a message of its own kind with the group's id and attributes: classified, applied or dropped, and
 * recorded in history exactly as if it had been queued alone. So histories and replays never see a
 * group, and whether a provider merges changes nothing but how many rows it queued.
 */
import type { ActivityResult, OrchestratorMessage } from '../../providers/contract.js';

function isActivityResult(value: unknown): value is ActivityResult {
  if (typeof value !== 'object' || value === null) return false;
  const { kind } = value as { kind?: unknown };
  return (kind === 'activityCompleted' || kind === 'activityFailed') && 'payload' in value;
}

/** The results a group holds, or undefined when its payload is not a list of results (it is then dropped whole). */
export function groupResults(msg: OrchestratorMessage): ActivityResult[] | undefined {
  const results = (msg.payload as { results?: unknown } | null)?.results;
  return Array.isArray(results) && results.length > 0 && results.every(isActivityResult) ? results : undefined;
}

/**
 * Every fetched message in order, with each well-formed group replaced by its results. A result
 * keeps the group's id: keeping it keeps (and consuming it consumes) the group's one queued row.
 */
export function* turnMessages(messages: readonly OrchestratorMessage[]): Generator<OrchestratorMessage> {
  for (const msg of messages) {
    const results = msg.kind === 'activityResults' ? groupResults(msg) : undefined;
    if (results === undefined) yield msg;
    else for (const { kind, payload } of results) yield { ...msg, kind, payload };
  }
}
