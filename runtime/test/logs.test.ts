/**
 * Logs: every turn line carries instanceId, executionId and turn; every activity line carries
 * activityId and attempt; and a turn rebuilt by replaying history logs only what is new.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from 'xstate';
import { activity, defineActivity, defineOrchestration } from '../definitions/index.js';
import { sql } from '../../test/db.js';
import { useHarness } from './support/harness.js';
import { logWatcher } from './support/log-watcher.js';
import { waitUntil } from './support/wait-until.js';

const h = useHarness(test);

const greet = defineActivity('logs.greet', async (name: string, ctx) => {
  ctx.logger.info({ name }, 'greeting');
  return `hello ${name}`;
});

const flow = defineOrchestration('logs.flow', setup({
  types: {} as { input: string; context: { name: string }; events: { type: 'GO' } },
  actors: { greet: activity(greet) },
}).createMachine({
  context: ({ input }) => ({ name: input }),
  initial: 'greeting',
  states: {
    greeting: { invoke: { id: 'greet', src: 'greet', input: ({ context }) => context.name, onDone: 'waiting' } },
    waiting: { on: { GO: 'done' } },
    done: { type: 'final' },
  },
}));

test('turn lines carry instanceId, executionId and turn; activity lines carry activityId and attempt', async () => {
  const watcher = logWatcher();
  await h.runtime({ orchestrations: [flow], activities: [greet], logger: watcher.logger });
  const { instanceId } = await h.client.start(flow, 'ada');
  const started = await watcher.waitFor('orchestration started', { instanceId });
  assert.is(started.executionId, 1);
  assert.is(started.turn, 1);
  const greeting = await watcher.waitFor('greeting', { instanceId });
  assert.type(greeting.activityId, 'string');
  assert.is(greeting.attempt, 1);
  // GO is only handled in 'waiting': raised earlier, the machine would (rightly) ignore it.
  await waitUntil(h.provider, instanceId, (record) => record.stateValue === 'waiting');
  await h.client.raiseEvent(instanceId, { type: 'GO' });
  const completed = await watcher.waitFor('orchestration completed', { instanceId });
  assert.is(completed.executionId, 1);
  assert.ok((completed.turn as number) > 1, 'the completing turn is a later turn');
});

test('a turn rebuilt from history logs only the newly applied events, never the replayed ones', async () => {
  const first = logWatcher();
  await h.runtime({ orchestrations: [flow], activities: [greet], logger: first.logger });
  const { instanceId } = await h.client.start(flow, 'grace');
  // Once the activity's result is applied (state 'waiting'), drop the snapshot so that the next
  // turn must replay the whole history.
  await waitUntil(h.provider, instanceId, (record) => record.stateValue === 'waiting');
  await h.stopRuntimes();
  await sql(h.db.url, `UPDATE "${h.db.schema}".instances SET snapshot = NULL WHERE instance_id = $1`, [instanceId]);
  const second = logWatcher();
  await h.runtime({ orchestrations: [flow], activities: [greet], logger: second.logger });
  await h.client.raiseEvent(instanceId, { type: 'GO' });
  await second.waitFor('orchestration completed', { instanceId });
  const replayed = await second.waitFor('replaying history', { instanceId });
  assert.ok((replayed.events as number) > 0, 'the turn really replayed history');
  assert.is(second.count('orchestration started', { instanceId }), 0, 'the replayed start is not logged again');
  assert.is(second.count('activity scheduled', { instanceId }), 0, 'the replayed command is not logged again');
});

test.run();
