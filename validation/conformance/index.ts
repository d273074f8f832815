/** The conformance half of the suite: one file per category, each case asserting one contract rule. */
import type { ValidationCase } from '../case.js';
import { instanceCreationCases } from './instance-creation.js';
import { instanceLockingCases } from './instance-locking.js';
import { lockExpirationCases } from './lock-expiration.js';
import { atomicityCases } from './atomicity.js';
import { queueSemanticsCases } from './queue-semantics.js';
import { errorHandlingCases } from './error-handling.js';
import { multiExecutionCases } from './multi-execution.js';
import { managementCases } from './management.js';
import { poisonMessageCases } from './poison-messages.js';
import { cancellationCases } from './cancellation.js';
import { longPollingCases } from './long-polling.js';

export function conformanceCases(): ValidationCase[] {
  return [
    ...instanceCreationCases, ...instanceLockingCases, ...lockExpirationCases, ...atomicityCases, ...queueSemanticsCases,
    ...errorHandlingCases, ...multiExecutionCases, ...managementCases, ...poisonMessageCases, ...cancellationCases,
    ...longPollingCases,
  ];
}
