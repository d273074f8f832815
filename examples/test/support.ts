/** An example's definitions running on a fresh schema of the test server; `close()` stops everything and drops the schema. */
import { stopTestServer, testSchema } from '../../test/db.js';
import type { Client, HistoryEvent } from '../../runtime/index.js';
import { openExampleSession, type Definitions } from '../support/session.js';

export interface ExampleUnderTest {
  client: Client;
  close(): Promise<void>;
}

export async function openExampleUnderTest(defs: Definitions): Promise<ExampleUnderTest> {
  const { url, schema, drop } = await testSchema('ex');
  const session = await openExampleSession(defs, { databaseUrl: url, schema, logLevel: 'silent', poolSize: 3 });
  return {
    client: session.client,
    async close() {
      await session.close();
      await drop();
      await stopTestServer();
    },
  };
}

/** Every history event of one execution (default: the current one). */
export async function historyOf(client: Client, instanceId: string, executionId?: number): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const e of client.history(instanceId, executionId === undefined ? {} : { executionId })) events.push(e);
  return events;
}

/** Names of the activities an execution scheduled, in order. */
export function scheduledActivities(history: HistoryEvent[]): string[] {
  return history
    .map((e) => e.data as { type?: string; name?: string })
    .filter((d) => d.type === 'scheduleActivity')
    .map((d) => d.name!);
}

/** Types of the commands an execution issued, in order. */
export function commandTypes(history: HistoryEvent[]): string[] {
  return history.filter((e) => e.type === 'command').map((e) => (e.data as { type: string }).type);
}
