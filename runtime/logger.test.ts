/**
 * childLogger: a child made on first use writes exactly what `parent.child(bindings)` writes, and
 * calls of levels the parent has switched off make no child at all.
 */
import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pino, { type Logger } from 'pino';
import { childLogger } from './logger.js';

function capture(level: string): { logger: Logger; lines: Array<Record<string, unknown>>; children: () => number } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  let made = 0;
  const logger = pino({ level, base: null, timestamp: false, onChild: () => made++ }, stream);
  return { logger, lines, children: () => made };
}

test('lines of a lazy child carry its bindings, exactly as pino.child writes them', () => {
  const lazy = capture('info');
  const eager = capture('info');
  childLogger(lazy.logger, { instanceId: 'i-1', turn: 3 }).warn({ reason: 'x' }, 'turn abandoned');
  eager.logger.child({ instanceId: 'i-1', turn: 3 }).warn({ reason: 'x' }, 'turn abandoned');
  assert.equal(lazy.lines, eager.lines);
  assert.equal(lazy.lines[0], { level: 40, instanceId: 'i-1', turn: 3, reason: 'x', msg: 'turn abandoned' });
});

test('calls of switched-off levels make no child and write nothing; the first enabled call makes one child', () => {
  const { logger, lines, children } = capture('warn');
  const log = childLogger(logger, { activityId: 'a#1', attempt: 2 });
  log.debug('activity attempt started');
  log.info({ n: 1 }, 'activity attempt succeeded');
  assert.is(children(), 0);
  assert.is(lines.length, 0);
  log.error('activity failed');
  log.warn('lock lost');
  assert.is(children(), 1, 'one child, made once');
  assert.equal(lines.map((l) => [l.msg, l.activityId, l.attempt]), [['activity failed', 'a#1', 2], ['lock lost', 'a#1', 2]]);
});

test('a lazy child answers like a child: its level checks, its bindings, its own children', () => {
  const { logger, lines } = capture('info');
  const log = childLogger(logger, { instanceId: 'i-2' });
  assert.is(log.isLevelEnabled('debug'), false);
  assert.is(log.isLevelEnabled('info'), true);
  assert.equal(log.bindings(), { instanceId: 'i-2' });
  log.child({ executionId: 4 }).info('grandchild');
  assert.equal(lines, [{ level: 30, instanceId: 'i-2', executionId: 4, msg: 'grandchild' }]);
});

test.run();
