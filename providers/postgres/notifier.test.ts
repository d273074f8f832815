import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import pino from 'pino';
import { stopTestServer, testSchema, testServer, type TestSchema } from '../../test/db.js';
import { ManualClock } from '../clock.js';
import { InvalidArgumentError } from '../errors.js';
import { channelName, Notifier, NOTIFIER_APPLICATION_NAME, parseQueuePayload, type NotifierOptions, type QueueName } from './notifier.js';

// Generous: a wait that should end early but does not will fail on its reason, never hang the file.
const FAR_MS = 10_000;

let url: string;
let sender: pg.Client;
const schemas: TestSchema[] = [];
const notifiers: Notifier[] = [];

test.before(async () => {
  url = (await testServer()).url;
  sender = new pg.Client({ connectionString: url });
  await sender.connect();
});

test.after(async () => {
  await Promise.all(notifiers.map((n) => n.close()));
  await sender.end();
  for (const s of schemas) await s.drop();
  await stopTestServer();
});

interface Fixture {
  n: Notifier;
  notify(topic: QueueName | 'instance', payload: string): Promise<void>;
  /** Backends listening on this fixture's channels (their last query is the LISTEN). */
  listenerPids(): Promise<number[]>;
}

/** A notifier on channels of its own: a test that fails before closing its notifier cannot disturb the next. */
async function fixture(overrides: Partial<NotifierOptions> = {}): Promise<Fixture> {
  const owned = await testSchema('notifier');
  schemas.push(owned);
  const schema = owned.schema;
  const n = new Notifier({
    connectionString: url,
    schema,
    listen: true,
    pollIntervalMs: FAR_MS,
    safetyIntervalMs: FAR_MS,
    safetyCheck: async () => null,
    now: Date.now,
    ...overrides,
  });
  notifiers.push(n);
  return {
    n,
    async notify(topic, payload) {
      await sender.query('SELECT pg_notify($1, $2)', [channelName(schema, topic), payload]);
    },
    async listenerPids() {
      const { rows } = await sender.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE $2',
        [NOTIFIER_APPLICATION_NAME, `%${channelName(schema, 'orchestrator')}%`],
      );
      return rows.map((r) => r.pid);
    },
  };
}

const deadline = (ms = FAR_MS): number => Date.now() + ms;

test('a notification that is due wakes every waiter of its queue with notify, and only that queue', async () => {
  const { n, notify } = await fixture();
  await n.start();
  const a = n.wait('orchestrator', { deadline: deadline() });
  const b = n.wait('orchestrator', { deadline: deadline() });
  const other = n.wait('worker', { deadline: deadline(300) });
  await notify('orchestrator', String(Date.now()));
  assert.equal(await Promise.all([a, b]), ['notify', 'notify']);
  assert.is(await other, 'timeout');
  assert.is(n.wakes.notify, 2);
  assert.is(n.generation('orchestrator'), 1);
  assert.is(n.generation('worker'), 0);
  await n.close();
});

test('a payload is <visibleAt>/<databaseNow>, optionally /<instanceId> after it, or, from older schema versions, a bare <visibleAt>', () => {
  assert.equal(parseQueuePayload('1700000000123/1700000000125'), { at: 1700000000123, databaseNow: 1700000000125, instanceId: null });
  assert.equal(parseQueuePayload('1700000000123/1700000000125/order-7'), { at: 1700000000123, databaseNow: 1700000000125, instanceId: 'order-7' });
  assert.equal(parseQueuePayload('1/2/tenant/order/7'), { at: 1, databaseNow: 2, instanceId: 'tenant/order/7' }, 'an id may hold slashes');
  assert.equal(parseQueuePayload('1700000000123'), { at: 1700000000123, databaseNow: null, instanceId: null });
  for (const junk of [undefined, '', ' ', 'x', '1/', '/2', '1/x', '1/2/', 'x/2/a', '1//a']) assert.is(parseQueuePayload(junk), null, String(junk));
});

test('instanceSince names the instance only while one notification naming it is the only wake since', async () => {
  const { n, notify } = await fixture();
  await n.start();
  const since = n.generation('orchestrator');
  let woken = n.wait('orchestrator', { deadline: deadline(), since });
  await notify('orchestrator', `${Date.now()}/${Date.now()}/a`);
  assert.is(await woken, 'notify');
  assert.is(n.instanceSince('orchestrator', since), 'a');
  assert.is(n.instanceSince('worker', n.generation('worker') - 1), null, 'the other queue was not woken');
  woken = n.wait('orchestrator', { deadline: deadline(), since: since + 1 });
  await notify('orchestrator', `${Date.now()}/${Date.now()}/b`);
  await woken;
  assert.is(n.instanceSince('orchestrator', since), null, 'two wakes since: the first instance is not all there is');
  assert.is(n.instanceSince('orchestrator', since + 1), 'b');
  woken = n.wait('orchestrator', { deadline: deadline(), since: since + 2 });
  await notify('orchestrator', `${Date.now()}/${Date.now()}`);
  await woken;
  assert.is(n.instanceSince('orchestrator', since + 2), null, 'a notification without an instance (a group\'s) names none');
  await n.close();
});

test('notified counts due notifications of its queue only; recheck wakes the queue without counting as one, and names no instance', async () => {
  const { n, notify } = await fixture();
  await n.start();
  let woken = n.wait('orchestrator', { deadline: deadline() });
  await notify('orchestrator', `${Date.now()}/${Date.now()}/a`);
  assert.is(await woken, 'notify');
  // A future one goes to a timer; another queue's is its own.
  await notify('orchestrator', `${Date.now() + FAR_MS}/${Date.now()}`);
  woken = n.wait('worker', { deadline: deadline() });
  await notify('worker', `${Date.now()}/${Date.now()}`);
  await woken;
  assert.equal([n.notified('orchestrator'), n.notified('worker')], [1, 1]);
  const since = n.generation('orchestrator');
  woken = n.wait('orchestrator', { deadline: deadline(), since });
  n.recheck('orchestrator');
  assert.is(await woken, 'recheck');
  assert.is(n.generation('orchestrator'), since + 1);
  assert.is(n.notified('orchestrator'), 1);
  assert.is(n.instanceSince('orchestrator', since), null);
  await n.close();
});

test('a payload the database calls due wakes with notify even when the clock estimate lags behind it', async () => {
  const observed: number[] = [];
  // The estimate a minute behind: by it, the row below would be a minute in the future.
  const { n, notify } = await fixture({ now: () => Date.now() - 60_000, observeDatabaseNow: (at) => observed.push(at) });
  await n.start();
  const waiting = n.wait('orchestrator', { deadline: Date.now() - 60_000 + FAR_MS });
  const at = Date.now();
  await notify('orchestrator', `${at}/${at + 1}`);
  assert.is(await waiting, 'notify');
  assert.equal(observed, [at + 1], 'the database time refreshes the estimate');
  assert.is(n.wakes.timer, 0);
  await n.close();
});

test('a payload the database calls not yet due goes to the timer heap, by the refreshed estimate', async () => {
  let offset = -60_000; // stale until the notification's database time arrives
  const { n, notify } = await fixture({ now: () => Date.now() + offset, observeDatabaseNow: (at) => (offset = at - Date.now()) });
  await n.start();
  const waiting = n.wait('worker', { deadline: Date.now() + FAR_MS });
  const sentAt = Date.now();
  await notify('worker', `${sentAt + 200}/${sentAt}`);
  assert.is(await waiting, 'timer');
  assert.ok(Date.now() - sentAt >= 150, 'released when due, not a minute late');
  assert.is(n.wakes.notify, 0);
  await n.close();
});

test('an unparseable payload counts as due now', async () => {
  const { n, notify } = await fixture();
  await n.start();
  const waiting = n.wait('worker', { deadline: deadline() });
  await notify('worker', 'not-a-time');
  assert.is(await waiting, 'notify');
  await n.close();
});

test('with an injected clock a future visible_at goes to the timer heap, whatever the database clock says', async () => {
  // A still clock keeps the payload in the future however slowly the notification travels; the heap's
  // real timer (300 ms, computed on arrival) then releases it. A database time that would call it due
  // is not on the provider's clock here (no observeDatabaseNow), so it must not count.
  const clock = new ManualClock();
  const { n, notify } = await fixture({ now: () => clock.now() });
  await n.start();
  const waiting = n.wait('worker', { deadline: clock.now() + FAR_MS });
  await notify('worker', `${clock.now() + 300}/${clock.now() + 60_000}`);
  assert.is(await waiting, 'timer');
  assert.is(n.wakes.timer, 1);
  assert.is(n.wakes.notify, 0);
  assert.is(n.generation('worker'), 1);
  await n.close();
});

test('since older than the generation returns at once with the reason of the latest wake', async () => {
  const { n, notify } = await fixture();
  await n.start();
  const waiting = n.wait('orchestrator', { deadline: deadline() });
  await notify('orchestrator', String(Date.now()));
  await waiting;
  // A deadline already past tells the two paths apart: the missed wake must win over the timeout.
  assert.is(await n.wait('orchestrator', { deadline: Date.now() - 1, since: 0 }), 'notify');
  assert.is(await n.wait('orchestrator', { deadline: Date.now() - 1, since: 1 }), 'timeout');
  await n.close();
});

test('deadline gives timeout, abort gives abort', async () => {
  const { n } = await fixture();
  await n.start();
  assert.is(await n.wait('orchestrator', { deadline: deadline(50) }), 'timeout');
  const controller = new AbortController();
  const waiting = n.wait('orchestrator', { deadline: deadline(), signal: controller.signal });
  controller.abort();
  assert.is(await waiting, 'abort');
  assert.is(await n.wait('worker', { deadline: deadline(), signal: controller.signal }), 'abort', 'an already aborted signal');
  assert.equal([n.wakes.timeout, n.wakes.abort], [1, 2]);
  await n.close();
});

test('listen=false opens no LISTEN connection and polls', async () => {
  const { n, notify, listenerPids } = await fixture({ listen: false, pollIntervalMs: 30 });
  await n.start();
  assert.equal(await listenerPids(), []);
  const waiting = n.wait('orchestrator', { deadline: deadline() });
  await notify('orchestrator', String(Date.now()));
  assert.is(await waiting, 'poll');
  assert.is(await n.wait('worker', { deadline: deadline(10) }), 'timeout', 'a deadline before the next poll');
  assert.is(n.wakes.notify, 0);
  await n.close();
});

test('setListening(false) ignores notifications and polls; setListening(true) restores them', async () => {
  const { n, notify } = await fixture({ pollIntervalMs: 300 });
  await n.start();
  n.setListening(false);
  const ignoring = n.wait('orchestrator', { deadline: deadline() });
  await notify('orchestrator', String(Date.now()));
  assert.is(await ignoring, 'poll');
  assert.is(n.wakes.notify, 0);
  assert.is(n.generation('orchestrator'), 0);

  // Waiters pending when listening comes back are woken: they may have missed work meanwhile.
  const pending = n.wait('worker', { deadline: deadline() });
  n.setListening(true);
  assert.is(await pending, 'reconnect');
  const listening = n.wait('orchestrator', { deadline: deadline() });
  await notify('orchestrator', String(Date.now()));
  assert.is(await listening, 'notify');
  await n.close();
});

test('a waiter pending when listening is switched off falls back to polling', async () => {
  const { n } = await fixture({ pollIntervalMs: 30 });
  await n.start();
  const waiting = n.wait('worker', { deadline: deadline() });
  n.setListening(false);
  assert.is(await waiting, 'poll');
  await n.close();
});

test('the safety check wakes a queue with due work and arms a timer for future work', async () => {
  const calls: QueueName[] = [];
  const { n } = await fixture({
    safetyIntervalMs: 20,
    safetyCheck: async (queue) => {
      calls.push(queue);
      return queue === 'orchestrator' ? Date.now() - 1 : Date.now() + 200;
    },
  });
  await n.start();
  const [orchestrator, worker] = await Promise.all([
    n.wait('orchestrator', { deadline: deadline() }),
    n.wait('worker', { deadline: deadline() }),
  ]);
  assert.is(orchestrator, 'safety');
  assert.is(worker, 'timer');
  assert.ok(calls.includes('orchestrator') && calls.includes('worker'));
  await n.close();
});

test('the safety check never overlaps itself, and its errors are logged, not thrown', async () => {
  const logged: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
  let calls = 0;
  let release = (): void => {};
  const { n } = await fixture({
    logger,
    safetyIntervalMs: 20,
    safetyCheck: (queue) => {
      calls++;
      if (calls === 1) return new Promise((resolve) => (release = () => resolve(null))); // a slow query
      if (calls === 2) return Promise.resolve(null); // the worker queue of the same tick
      if (calls === 3) throw new Error('connection refused');
      return Promise.resolve(queue === 'orchestrator' ? Date.now() : null);
    },
  });
  await n.start();
  // Several intervals pass while the first check hangs: no second check may start.
  assert.is(await n.wait('orchestrator', { deadline: deadline(200) }), 'timeout');
  assert.is(calls, 1);
  release();
  assert.is(await n.wait('orchestrator', { deadline: deadline() }), 'safety');
  assert.ok(logged.some((line) => line.includes('connection refused') && line.includes('safety check failed')));
  await n.close();
});

test('after pg_terminate_backend the notifier reconnects, wakes everyone with reconnect, and hears later notifications', async () => {
  const { n, notify, listenerPids } = await fixture();
  await n.start();
  const [pid] = await listenerPids();
  assert.ok(pid, 'the LISTEN backend is visible in pg_stat_activity');
  const seen: string[] = [];
  n.watchInstance('inst-1', (id) => seen.push(id));
  const orchestrator = n.wait('orchestrator', { deadline: deadline() });
  const worker = n.wait('worker', { deadline: deadline() });
  await sender.query('SELECT pg_terminate_backend($1)', [pid]);
  assert.equal(await Promise.all([orchestrator, worker]), ['reconnect', 'reconnect']);
  assert.equal(seen, ['inst-1']);
  const [newPid] = await listenerPids();
  assert.ok(newPid !== undefined && newPid !== pid, 'a new LISTEN backend');

  const later = n.wait('orchestrator', { deadline: deadline() });
  await notify('orchestrator', String(Date.now()));
  assert.is(await later, 'notify');
  await n.close();
});

test('watchInstance calls the listeners of the notified id only, and unsubscribing stops them', async () => {
  const { n, notify } = await fixture();
  await n.start();
  const one: string[] = [];
  const two: string[] = [];
  const unsubscribe = n.watchInstance('inst-1', (id) => one.push(id));
  let fence = (): void => {};
  n.watchInstance('inst-2', (id) => {
    two.push(id);
    fence();
  });
  const heard = (): Promise<void> => new Promise((resolve) => (fence = resolve));

  let next = heard();
  await notify('instance', 'inst-1');
  await notify('instance', 'inst-2'); // sent after inst-1 on the same session, so delivered after it
  await next;
  assert.equal(one, ['inst-1']);
  assert.equal(two, ['inst-2']);

  unsubscribe();
  next = heard();
  await notify('instance', 'inst-1');
  await notify('instance', 'inst-2');
  await next;
  assert.equal(one, ['inst-1'], 'no call after unsubscribing');
  assert.equal(two, ['inst-2', 'inst-2']);
  await n.close();
});

test('close() resolves pending waits with abort, and later waits abort at once', async () => {
  const { n } = await fixture({ safetyIntervalMs: 20 });
  await n.start();
  const pending = n.wait('orchestrator', { deadline: deadline() });
  n.watchInstance('inst-1', () => {});
  await n.close();
  assert.is(await pending, 'abort');
  assert.is(await n.wait('worker', { deadline: deadline() }), 'abort');
  await n.close(); // idempotent
});

test('a schema that makes channel names too long is rejected', async () => {
  await fixture({ schema: 'x'.repeat(60) }).then(
    () => assert.unreachable('constructed'),
    (err: unknown) => assert.instance(err, InvalidArgumentError),
  );
});

test.run();
