/** Errors the dispatchers raise into activities (through the AbortSignal) and report as results. */
import { DurastateError } from '../../providers/errors.js';

/** An activity attempt ran longer than its `timeoutMs`, or went longer than `heartbeatMs` without a heartbeat. */
export class ActivityTimeoutError extends DurastateError {
  constructor(activity: string, kind: 'timeout' | 'heartbeat', ms: number) {
    super(
      'ACTIVITY_TIMEOUT',
      kind === 'timeout' ? `activity '${activity}' did not finish within ${ms} ms` : `activity '${activity}' sent no heartbeat for ${ms} ms`,
      { activity, kind, ms },
    );
  }
}

/** The runtime is shutting down and its grace period is over: the attempt is abandoned uncounted. */
export class RuntimeShutdownError extends DurastateError {
  constructor() {
    super('RUNTIME_SHUTDOWN', 'the runtime is shutting down; the work was abandoned and will run again');
  }
}
