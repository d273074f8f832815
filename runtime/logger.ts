/**
 * Logging: pino, one child logger per orchestration turn and per activity attempt (the
 * dispatchers make those, with childLogger). This file holds the process-level default, those
 * children and the bridge from the engine's log entries, so no other file decides levels or formats.
 */
import { hostname } from 'node:os';
import pino, { type Bindings, type Logger } from 'pino';
import type { TurnLogEntry } from './engine/api.js';

export type { Logger } from 'pino';

/** The logger used when the caller gives none: JSON lines on stdout, level from DURASTATE_LOG_LEVEL (default 'info'). */
export function createDefaultLogger(): Logger {
  return pino({ name: 'durastate', level: process.env.DURASTATE_LOG_LEVEL ?? 'info' });
}

/**
 * `parent.child(bindings)`, made when it is first used to write a line: pino serialises a child's
 * bindings when it makes it, and a turn or an activity attempt that logs nothing at the enabled
 * level (most of them, at 'info') paid that for nothing (3% of the throughput benchmark's CPU).
 * A call of a level the parent has switched off answers with a no-op and makes nothing.
 */
export function childLogger(parent: Logger, bindings: Bindings): Logger {
  let child: Logger | undefined;
  const real = (): Logger => (child ??= parent.child(bindings));
  return new Proxy(parent, {
    get(target, prop) {
      if (child === undefined && typeof prop === 'string' && prop in target.levels.values && !target.isLevelEnabled(prop)) return noop;
      const value = Reflect.get(real(), prop) as unknown;
      return typeof value === 'function' ? value.bind(child) : value;
    },
    set(_target, prop, value) {
      return Reflect.set(real(), prop, value);
    },
  });
}

const noop = (): void => {};

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
