/**
 * A logger whose lines a test can wait for: the way to learn that a runtime has looked at
 * something (e.g. abandoned an item it cannot run) without sleeping.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface LogWatcher {
  logger: Logger;
  /** Resolves with the first line (past or future) whose msg equals `msg` and whose fields match; rejects after `timeoutMs`. */
  waitFor(msg: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** How many lines seen so far have this msg and these fields. */
  count(msg: string, fields?: Record<string, unknown>): number;
}

function matcher(msg: string, fields: Record<string, unknown>) {
  return (line: Record<string, unknown>) => line.msg === msg && Object.entries(fields).every(([k, v]) => line[k] === v);
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
    waitFor(msg, fields = {}, timeoutMs = 20_000) {
      const test = matcher(msg, fields);
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { test, resolve: (line: Record<string, unknown>) => (clearTimeout(timer), resolve(line)) };
        // A line that never comes must fail the test, not hang it.
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no log line '${msg}' ${JSON.stringify(fields)} within ${timeoutMs} ms; seen: ${lines.map((l) => l.msg).join(' | ')}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    count(msg, fields = {}) {
      return lines.filter(matcher(msg, fields)).length;
    },
  };
}
