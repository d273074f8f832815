/**
 * The connection-terminating chaos waits for the run's Exclusive: while a server restart (or a
 * submission) holds it, no tick runs, so combined chaos modes never meet half-way.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { terminateConnectionsEvery } from '../chaos/terminate-connections.js';
import { Exclusive } from '../exclusive.js';
import { stopTestServer, testServer } from '../../test/db.js';

test.after(async () => {
  await stopTestServer();
});

test('no tick runs while the Exclusive is held; the first runs once it is released', async () => {
  const url = (await testServer()).url;
  const exclusive = new Exclusive();
  let release!: () => void;
  let releasedAt = 0;
  const held = exclusive.run(() => new Promise<void>((resolve) => (release = () => ((releasedAt = Date.now()), resolve()))));
  const ticks: number[] = [];
  const errors: unknown[] = [];
  // An application name no session uses: the tick terminates nothing here.
  const chaos = terminateConnectionsEvery(url, 'durastate-test-no-such-app', 10, () => ticks.push(Date.now()), (err) => errors.push(err), exclusive);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(ticks, [], 'nothing ran while held');
  release();
  await held;
  while (ticks.length === 0 && errors.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await chaos.stop();
  assert.equal(errors, []);
  assert.ok(ticks[0]! >= releasedAt, 'the first tick came after the release');
});

test.run();
