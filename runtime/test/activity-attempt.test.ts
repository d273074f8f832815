/**
 * One activity attempt's AbortSignal is made only when the activity reads it: read after the
 * attempt was interrupted, it is already aborted with the interruption's reason; read before, it
 * aborts when the interruption comes. The provider is a stand-in: these attempts never renew.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Provider, WorkItem } from '../../providers/contract.js';
import { defineActivity } from '../definitions/activity-definition.js';
import { runActivityAttempt } from '../dispatch/activity-attempt.js';
import { ActivityTimeoutError, RuntimeShutdownError } from '../dispatch/errors.js';
import { testLogger } from './support/silent-logger.js';

const item = { instanceId: 'i', executionId: 1, activityId: 'a#1', name: 'slow', attempt: 1, lockToken: 't', payload: {} } as unknown as WorkItem;
const provider = { renewWorkItemLock: async () => {} } as unknown as Provider;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a signal first read after a timeout is already aborted, with the timeout as its reason', async () => {
  let seen: AbortSignal | undefined;
  const slow = defineActivity('slow', async (_input: null, ctx) => {
    await sleep(60);
    seen = ctx.signal;
    return null;
  }, { timeoutMs: 10 });
  const result = await runActivityAttempt({ provider, definition: slow, item, input: null, lockMs: 60_000, logger: testLogger, giveUp: new AbortController().signal });
  assert.is(result.kind, 'failed');
  await sleep(80);
  assert.ok(seen?.aborted, 'aborted when first read');
  assert.instance(seen!.reason, ActivityTimeoutError);
});

test('a signal read before the give-up aborts when it comes, with RuntimeShutdownError', async () => {
  const giveUp = new AbortController();
  let reason: unknown;
  const listening = defineActivity('listening', async (_input: null, ctx) => {
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    reason = ctx.signal.reason;
    return null;
  });
  const attempt = runActivityAttempt({ provider, definition: listening, item, input: null, lockMs: 60_000, logger: testLogger, giveUp: giveUp.signal });
  await sleep(5);
  giveUp.abort();
  assert.is((await attempt).kind, 'givenUp');
  await sleep(5);
  assert.instance(reason, RuntimeShutdownError);
});

test.run();
