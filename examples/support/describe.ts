/** Readable lines about an instance, shared by the runnable examples and the demo. */
import type { Client, InstanceStatusView, Json } from '../../runtime/index.js';

type Fields = { [key: string]: Json | undefined };

/** The gist of one history entry: what was asked (commands) or what arrived (events), by name and id. */
function summarize(data: Json): string {
  const d = (data ?? {}) as Fields;
  const payload = (d.payload ?? {}) as Fields;
  const parts = [d.type, d.kind, d.name, d.activityId, d.timerId, d.childInstanceId, payload.type, payload.activityId, payload.invokeId];
  if (d.kind === 'activityFailed') parts.push(`(${String((payload.error as Fields | null)?.message)})`);
  return parts.filter((p) => typeof p === 'string' || typeof p === 'number').join(' ');
}

/** History events of every execution of the instance (continue-as-new starts a fresh history each time). */
export async function historyLength(client: Client, status: InstanceStatusView<unknown, unknown>): Promise<number> {
  let n = 0;
  for (let execution = 1; execution <= (status.executionId ?? 0); execution++) {
    for await (const _ of client.history(status.instanceId, { executionId: execution })) n++;
  }
  return n;
}

export function elapsedMs(status: InstanceStatusView<unknown, unknown>): number | null {
  return status.completedAt !== null && status.createdAt !== null ? status.completedAt - status.createdAt : null;
}

/** Print the outcome of an instance and the commands and events of its current execution. */
export async function printInstance(client: Client, status: InstanceStatusView<unknown, unknown>): Promise<void> {
  console.log(`\n${status.name} ${status.instanceId}: ${status.status} in ${elapsedMs(status) ?? '?'} ms, execution ${status.executionId}`);
  for await (const e of client.history(status.instanceId)) console.log(`  ${String(e.seq).padStart(3)} ${e.type.padEnd(10)} ${summarize(e.data)}`);
  console.log(`  output: ${JSON.stringify(status.output)}`);
  if (status.error) console.log(`  error: ${status.error.code ?? status.error.name}: ${status.error.message}`);
}
