/**
 * Typed errors shared by every layer. Each class has a stable `code` that callers
 * (and scripts reading JSON output) can switch on; messages are for humans and may change.
 */
export class DurastateError extends Error {
  readonly code: string;
  /**
   * Extra machine-readable facts (ids, paths, limits) that explain the error. Named like Node's
   * SystemError#info; not `details`, which test reporters (uvu) expect to be a string.
   */
  readonly info: Record<string, unknown>;

  constructor(code: string, message: string, info: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.info = info;
  }

  toJSON(): { name: string; code: string; message: string; info: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, info: this.info };
  }
}

/** The lock token no longer holds its lock (expired, taken over, released or the item is gone). Nothing was changed. */
export class LockLostError extends DurastateError {
  constructor(message = 'lock token no longer holds the lock', details: Record<string, unknown> = {}) {
    super('LOCK_LOST', message, details);
  }
}

export class InstanceNotFoundError extends DurastateError {
  constructor(instanceId: string) {
    super('INSTANCE_NOT_FOUND', `instance '${instanceId}' does not exist`, { instanceId });
  }
}

/** A start for an instance id that already exists or already has a start queued. */
export class InstanceExistsError extends DurastateError {
  constructor(instanceId: string) {
    super('INSTANCE_EXISTS', `instance '${instanceId}' already exists or is already starting`, { instanceId });
  }
}

/** Refusing to delete an instance that has not reached a terminal status (pass `force`). */
export class InstanceRunningError extends DurastateError {
  constructor(instanceId: string) {
    super('INSTANCE_RUNNING', `instance '${instanceId}' is still running; pass force to delete it`, { instanceId });
  }
}

/** Bad input from the caller: nothing was written. */
export class InvalidArgumentError extends DurastateError {
  constructor(message: string, details: Record<string, unknown> = {}, code = 'INVALID_ARGUMENT') {
    super(code, message, details);
  }
}

/** A payload larger than the documented limit. */
export class PayloadTooLargeError extends InvalidArgumentError {
  constructor(what: string, bytes: number, limit: number) {
    super(`${what} is ${bytes} bytes; the limit is ${limit} bytes`, { what, bytes, limit }, 'PAYLOAD_TOO_LARGE');
  }
}

/** A value that JSON cannot carry faithfully (Date, Map, Set, function, cycle, NaN...). */
export class NotJsonSafeError extends InvalidArgumentError {
  constructor(what: string, path: string, reason: string) {
    super(`${what} is not JSON-safe at ${path}: ${reason}`, { what, path, reason }, 'NOT_JSON_SAFE');
  }
}

/** The database schema is missing, out of date, or an applied migration was changed. */
export class SchemaError extends DurastateError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('SCHEMA', message, details, options);
  }
}

/** The database refused access for a reason retrying will not fix: authentication, an unknown database, a missing privilege. */
export class DatabaseAccessError extends DurastateError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('DATABASE_ACCESS', message, details, options);
  }
}

/** A transient failure (serialization failure, deadlock, lost connection, pool timeout): the same call may succeed if retried. */
export class RetryableProviderError extends DurastateError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('RETRYABLE', message, details, options);
  }
}

/** The outcome of a call is unknown (the connection dropped after the request was sent). */
export class OutcomeUnknownError extends RetryableProviderError {
  override readonly code = 'OUTCOME_UNKNOWN';
}
