/** Errors the client raises itself (the provider's and the engine's are re-exported by the package). */
import { DurastateError } from '../../providers/errors.js';

/** waitForCompletion gave up before the instance reached a terminal status. */
export class WaitTimeoutError extends DurastateError {
  constructor(instanceId: string, timeoutMs: number) {
    super('WAIT_TIMEOUT', `instance '${instanceId}' did not finish within ${timeoutMs} ms`, { instanceId, timeoutMs });
  }
}
