/**
 * The provider's clock jumps (a VM resumed, NTP stepped): locks follow the provider clock, so a
 * jump forward expires them, and a jump backward must never let a second fetcher in while the
 * first still holds the lock.
 */
import * as assert from 'uvu/assert';
import { LockLostError } from '../../providers/errors.js';
import { clockOf, eventMessage, expectError, fetchNone, fetchOne, sampleDelta } from '../conformance/helpers.js';
import type { ValidationCase } from '../case.js';

const MINUTES = 60_000;
const LOCK_MS = 60_000;

export const clockSkewCases: Array<Omit<ValidationCase, 'category'>> = [
  {
    name: 'a clock jump forward expires locks: another fetcher takes over and the old token changes nothing',
    needsClock: true,
    needsFaults: true,
    async run(ctx) {
      const { provider } = ctx.put;
      await provider.enqueueOrchestratorMessage(eventMessage('skew-a'));
      const first = await fetchOne(provider, 'skew-a', LOCK_MS);
      clockOf(ctx).advance(5 * MINUTES);
      const second = await fetchOne(provider, 'skew-a', LOCK_MS);
      assert.is.not(second.lockToken, first.lockToken);
      await expectError(provider.renewOrchestrationLock(first.lockToken, LOCK_MS), LockLostError, 'renew with the expired token');
      await expectError(provider.ackOrchestrationItem(first.lockToken, sampleDelta()), LockLostError, 'ack with the expired token');
      assert.is(await provider.getInstance('skew-a'), null, 'the rejected ack created nothing');
      await provider.ackOrchestrationItem(second.lockToken, sampleDelta());
      assert.ok(await provider.getInstance('skew-a'), 'the new holder acked');
      await fetchNone(provider, 'the message was consumed once');
    },
  },
  {
    name: 'a clock jump backward never lets two holders coexist',
    needsClock: true,
    needsFaults: true,
    async run(ctx) {
      const { provider } = ctx.put;
      const clock = clockOf(ctx);
      await provider.enqueueOrchestratorMessage(eventMessage('skew-b'));
      const first = await fetchOne(provider, 'skew-b', LOCK_MS);
      clock.set(clock.now() - 5 * MINUTES);
      await fetchNone(provider, 'the lock is held after a jump backward');
      clock.advance(5 * MINUTES + LOCK_MS / 2); // back to within the original lock
      await fetchNone(provider, 'the lock is held until its original expiry');
      await provider.ackOrchestrationItem(first.lockToken, sampleDelta());
      assert.ok(await provider.getInstance('skew-b'), 'the only holder acked');
      await fetchNone(provider, 'the message was consumed once');
    },
  },
];
