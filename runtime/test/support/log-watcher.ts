/**
 * A logger whose lines a test can wait for: the way to learn that a runtime has looked at
 * something (e.g. abandoned an item it cannot run) without sleeping.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface LogWatcher {
  logger: Logger;
  /** Resolves with the first line (past or future) whose msg equals `msg` and whose fields match. */
  waitFor(msg: string, fields?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export function logWatcher(): LogWatcher {
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ test: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }>();
  const stream = new Writable({
    write(chunk, _enc, done) {
      const line = JSON.parse(String(chunk)) as Record<string, unknown>;
      lines.push(line);
      for (const w of waiters) if (w.test(line)) (waiters.delete(w), w.resolve(line));
      done();
    },
  });
  return {
    logger: pino({ level: 'debug' }, stream),
    waitFor(msg, fields = {}) {
      const test = (line: Record<string, unknown>) => line.msg === msg && Object.entries(fields).every(([k, v]) => line[k] === v);
      const seen = lines.find(test);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.add({ test, resolve }));
    },
  };
}
