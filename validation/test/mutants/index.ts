/**
 * Deliberately broken providers (test-only, never shipped): each is the memory reference with ONE
 * rule of the contract broken. The validation suite must reject every one of them; a mutant it
 * accepts points at a rule the suite does not check.
 */
import type { ManualClock } from '../../../providers/clock.js';
import type { Provider } from '../../../providers/contract.js';
import type { ProviderFactory } from '../../factory.js';
import { AbandonForgetsDelay } from './abandon-forgets-delay.js';
import { AckDeletesLaterMessages } from './ack-deletes-later-messages.js';
import { AckIgnoresLockExpiry } from './ack-ignores-lock-expiry.js';
import { AttemptNotIncremented } from './attempt-not-incremented.js';
import { FailedAckHalfApplies } from './failed-ack-half-applies.js';
import { FetchLocksFirstMessageOnly } from './fetch-locks-first-message-only.js';
import { RenewRevivesExpiredLock } from './renew-revives-expired-lock.js';
import { mutantFactory } from './time-bending-memory.js';

export interface Mutant {
  /** The rule it breaks, in words. */
  breaks: string;
  factory: ProviderFactory;
}

const mutant = (breaks: string, make: (clock: ManualClock) => Provider): Mutant => ({ breaks, factory: mutantFactory(make) });

export const MUTANTS: Mutant[] = [
  mutant('ack ignores lock expiry', (c) => new AckIgnoresLockExpiry(c)),
  mutant('fetch locks only the first message', (c) => new FetchLocksFirstMessageOnly(c)),
  mutant('ack deletes messages that arrived after the fetch', (c) => new AckDeletesLaterMessages(c)),
  mutant('abandon forgets the delay', (c) => new AbandonForgetsDelay(c)),
  mutant('renew extends an expired lock', (c) => new RenewRevivesExpiredLock(c)),
  mutant('attempt not incremented', (c) => new AttemptNotIncremented(c)),
  mutant('failed ack half-applies', (c) => new FailedAckHalfApplies(c)),
];
