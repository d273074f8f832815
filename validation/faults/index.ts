/**
 * Fault-injection cases: they run when the factory's providers offer `faults` (the Postgres
 * factory does) and are 'not-applicable' otherwise.
 */
import type { ValidationCase, ValidationOptions } from '../case.js';
import { inCategory } from '../conformance/helpers.js';
import { clockSkewCases } from './clock-skew.js';
import { droppedAckCases } from './dropped-ack.js';
import { notificationsOffCases } from './notifications-off.js';
import { slowQueryCases } from './slow-queries.js';

export const FAULT_CATEGORY = 'faults';

export function faultCases(_options: ValidationOptions): ValidationCase[] {
  return inCategory(FAULT_CATEGORY, [...clockSkewCases, ...notificationsOffCases, ...slowQueryCases, ...droppedAckCases]);
}
