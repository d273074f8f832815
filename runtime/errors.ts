/**
 * Runtime-level typed errors (the engine and the definitions API). Each has a stable `code`;
 * messages are for humans. Storage-level errors live in providers/errors.ts.
 */
import { DurastateError } from '../providers/errors.js';

/** A machine or activity definition the runtime cannot run durably (raised at registration). */
export class InvalidDefinitionError extends DurastateError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_DEFINITION', message, details);
  }
}

/** Replaying the recorded history with the registered definition produced different commands. */
export class NondeterminismError extends DurastateError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NONDETERMINISM', message, details);
  }
}

/** A batch of messages was handed out more often than `maxAttempts`: it is dead-lettered. */
export class PoisonMessageError extends DurastateError {
  constructor(instanceId: string, attempt: number, maxAttempts: number) {
    super(
      'POISON_MESSAGE',
      `instance '${instanceId}': messages were fetched ${attempt} times (max ${maxAttempts}); they are dead-lettered`,
      { instanceId, attempt, maxAttempts },
    );
  }
}

/** No registered orchestration has this name (and version). */
export class UnknownOrchestrationError extends DurastateError {
  constructor(name: string, version?: string) {
    super(
      'UNKNOWN_ORCHESTRATION',
      version === undefined ? `no orchestration named '${name}' is registered` : `orchestration '${name}' version '${version}' is not registered`,
      version === undefined ? { name } : { name, version },
    );
  }
}

/** now() or uuid() called outside a turn (they only make sense while the engine applies an event). */
export class OutsideTurnError extends DurastateError {
  constructor(fn: string) {
    super('OUTSIDE_TURN', `${fn}() can only be called inside a machine step run by the durastate engine (guards, assigns, input mappers)`, { fn });
  }
}

/** Code of the machine (a guard, an assign, an input mapper) threw while the engine applied an event. */
export class MachineCodeError extends DurastateError {
  constructor(message: string, details: Record<string, unknown>, cause: unknown) {
    super('MACHINE_CODE', message, details, { cause });
  }
}

/** The instance was terminated (reported to its parent as a child failure). */
export class TerminatedError extends DurastateError {
  constructor(instanceId: string, reason?: string) {
    super('TERMINATED', `instance '${instanceId}' was terminated${reason ? `: ${reason}` : ''}`, reason ? { instanceId, reason } : { instanceId });
  }
}
