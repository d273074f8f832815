/**
 * The property-based half of the validation suite: one case per invariant of the contract's
 * locking and queueing rules. Every case runs random command sequences against the provider and
 * the memory reference in lockstep (any disagreement fails it) and additionally asserts its own
 * invariant against the bookkeeping model; its command mix leans on what threatens that invariant.
 */
import type { ValidationCase, ValidationOptions } from '../case.js';
import { ACK_VARIANTS, type CommandMix } from './commands.js';
import { propertyCase, type PropertySpec } from './check-property.js';

const BASE: CommandMix = {
  instances: 3,
  dispatchers: 3,
  weights: { enqueue: 3, fetch: 3, ack: 2, abandon: 1, renew: 1, advance: 2 },
  ackVariants: ACK_VARIANTS,
};

const SPECS: PropertySpec[] = [
  {
    invariant: 'one-holder',
    name: 'at most one dispatcher holds an instance lock at any time',
    mix: { ...BASE, instances: 2, weights: { ...BASE.weights, fetch: 5, renew: 2 } },
  },
  {
    invariant: 'takeover',
    name: 'an expired lock can be taken over, and its old token then changes nothing',
    mix: { ...BASE, weights: { ...BASE.weights, ack: 3, abandon: 2, renew: 3, advance: 3 } },
  },
  {
    invariant: 'ack-atomic',
    name: 'an ack is all-or-nothing: a rejected ack changes nothing and keeps the lock',
    // Rejected acks need a valid lock and a bad delta: weight the bad one up.
    mix: { ...BASE, weights: { ...BASE.weights, ack: 4 }, ackVariants: [...ACK_VARIANTS, 'duplicateSeq', 'duplicateSeq'] },
  },
  {
    invariant: 'no-loss',
    name: 'no message is lost or delivered to two holders of valid locks',
    mix: BASE,
  },
  {
    invariant: 'order',
    name: 'each instance receives its visible messages in order, oldest first',
    mix: { ...BASE, weights: { ...BASE.weights, enqueue: 4, abandon: 2 }, ackVariants: ['consume', 'keep', 'message'] },
  },
  {
    invariant: 'attempts',
    name: 'attempt counts are exact: one per delivery, none for an uncounted abandon',
    mix: { ...BASE, weights: { ...BASE.weights, abandon: 3, advance: 3 } },
  },
];

export function propertyCases(_options: ValidationOptions): ValidationCase[] {
  return SPECS.map(propertyCase);
}
