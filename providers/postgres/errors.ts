/**
 * Maps what `pg` throws to the contract's typed errors. The stored functions raise custom SQLSTATEs
 * (see schema/migrations/001_init.sql); constraint violations mean bad input; transient server or
 * connection trouble is retryable, and a connection lost after the request went out leaves the
 * outcome unknown.
 */
import {
  DatabaseAccessError,
  DurastateError,
  InstanceExistsError,
  InstanceNotFoundError,
  InstanceRunningError,
  InvalidArgumentError,
  LockLostError,
  OutcomeUnknownError,
  RetryableProviderError,
} from '../errors.js';

interface PgErrorLike {
  code?: string;
  message: string;
  detail?: string;
  constraint?: string;
}

const RETRYABLE_CODES = new Set(['40001', '40P01', '55P03', '57P01', '57P02', '57P03', '53300']);
/** Messages node-postgres uses for a dead socket (these carry no SQLSTATE): a request may have gone out. */
const CONNECTION_LOST = /Connection terminated|connection error|ECONNRESET|EPIPE|socket hang up|Client has encountered a connection error/i;
/** No connection could be had: nothing was sent. */
const NOT_CONNECTED = /timeout exceeded when trying to connect|ECONNREFUSED|the database system is (starting up|shutting down)/i;
/**
 * Node's codes for a connection that could not be made. Checked besides the message: a host with
 * several addresses that all refuse fails with an AggregateError whose message is empty.
 */
const NOT_CONNECTED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN']);
/** 28xxx: authentication; 3D000: no such database; 42501: missing privilege. Retrying changes nothing. */
const ACCESS_CODES = /^(28...|3D000|42501)$/;

/** `Key (instance_id)=(abc) already exists.` -> `abc` */
function keyValue(detail: string | undefined): string {
  return /=\((.*)\)/.exec(detail ?? '')?.[1] ?? '';
}

export function toProviderError(err: unknown): Error {
  if (err instanceof DurastateError || !(err instanceof Error)) return err as Error;
  const e = err as Error & PgErrorLike;
  const code = e.code ?? '';
  switch (code) {
    case 'DS001': return new LockLostError();
    case 'DS002': return new InstanceExistsError(e.detail ?? '');
    case 'DS003': return new InstanceNotFoundError(e.detail ?? '');
    case 'DS004': return new InstanceRunningError(e.detail ?? '');
    case 'DS005': return new InvalidArgumentError(e.message);
    case 'DS006': return new InvalidArgumentError(e.message, { id: e.detail ?? null }, 'DEAD_LETTER_NOT_FOUND');
  }
  // A second queued start for the same instance lost the race to the unique index.
  if (code === '23505' && e.constraint === 'orchestrator_queue_one_start') return new InstanceExistsError(keyValue(e.detail));
  // 23xxx: integrity constraints; 22xxx: data exceptions (a malformed number, an out-of-range integer...).
  if (code.startsWith('23') || code.startsWith('22')) {
    return new InvalidArgumentError(e.message, { sqlstate: code, constraint: e.constraint ?? null, detail: e.detail ?? null });
  }
  if (ACCESS_CODES.test(code)) return new DatabaseAccessError(e.message, { sqlstate: code }, { cause: err });
  if (RETRYABLE_CODES.has(code) || NOT_CONNECTED_CODES.has(code) || NOT_CONNECTED.test(e.message)) {
    return new RetryableProviderError(e.message, { sqlstate: code }, { cause: err });
  }
  if (code.startsWith('08') || CONNECTION_LOST.test(e.message)) {
    return new OutcomeUnknownError(e.message, { sqlstate: code }, { cause: err });
  }
  return err;
}
