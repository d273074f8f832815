/**
 * Logging: pino, one child logger per orchestration turn and per activity attempt (the
 * dispatchers make those). This file holds the process-level default and the bridge from the
 * engine's log entries, so no other file decides levels or formats.
 */
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { TurnLogEntry } from './engine/api.js';

export type { Logger } from 'pino';

/** The logger used when the caller gives none: JSON lines on stdout, level from DURASTATE_LOG_LEVEL (default 'info'). */
export function createDefaultLogger(): Logger {
  return pino({ name: 'durastate', level: process.env.DURASTATE_LOG_LEVEL ?? 'info' });
}

/** Identifies this process in lock owners and logs: `host:pid`. */
export function defaultOwner(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * Write the entries the engine produced for one turn. The engine returns entries only for events
 * applied for the first time (never for replayed ones), so writing them all logs nothing twice.
 */
export function writeTurnLog(logger: Logger, entries: readonly TurnLogEntry[]): void {
  for (const entry of entries) logger[entry.level](entry.fields ?? {}, entry.msg);
}
