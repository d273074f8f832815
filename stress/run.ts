/**
 * `npm run stress`: many dispatcher processes against one database, a mixed workload submitted by
 * this driver, optional chaos (kill -9, dropped connections, a server restart or crash), then the checks of
 * stress/checks.ts. Prints a table, writes JSON, and exits non-zero if any check fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { createClient } from '../runtime/index.js';
import { openPostgresProvider } from '../providers/postgres/index.js';
import { killProcessesEvery } from './chaos/kill-processes.js';
import type { Repeating } from './chaos/repeat.js';
import { restartServerAt } from './chaos/restart-server.js';
import { terminateConnectionsEvery } from './chaos/terminate-connections.js';
import { runChecks, type CheckResult } from './checks.js';
import { collectObservations } from './collect.js';
import { Exclusive } from './exclusive.js';
import { startFleet } from './fleet.js';
import { parseStressOptions } from './options.js';
import { RESULTS_DIR, writeResults } from './results-file.js';
import { createRunLog } from './run-log.js';
import { openServer, withApplicationName } from './server.js';
import { submitPlan } from './submit.js';
import { formatTable } from './table.js';
import { waitSettled } from './wait-settled.js';
import { STRESS_ORCHESTRATIONS } from './workloads/orchestrations.js';
import { planWorkload } from './workloads/plan.js';

const opts = parseStressOptions(process.argv.slice(2));
const runId = randomBytes(4).toString('hex');
const schema = `stress_${runId}`;
const applicationName = `durastate-stress-${runId}`;
const logDir = path.join(RESULTS_DIR, 'logs', runId);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const say = (line: string) => console.log(`[stress ${elapsed()}] ${line}`);

await mkdir(logDir, { recursive: true });
const server = await openServer({ url: opts.url, embedded: opts.embedded });
say(`server from ${server.source}; schema ${schema}; ${opts.processes} processes; worker logs in ${path.relative(process.cwd(), logDir)}`);

const pool = new pg.Pool({ connectionString: withApplicationName(server.url, `${applicationName}-driver`), max: 2 });
pool.on('error', () => {}); // idle connections die in a server restart; the pool replaces them
const provider = await openPostgresProvider({ pool, schema, listen: false });
await createRunLog(pool, schema);
const client = createClient({ provider, orchestrations: STRESS_ORCHESTRATIONS });

const plan = planWorkload({
  runId, instances: opts.instances, durationMs: opts.durationS * 1000, fanoutWidth: opts.fanoutWidth,
  chainSteps: 5, generations: 3, eventsPerInstance: 4,
});
const fleet = await startFleet({
  size: opts.processes, logDir,
  config: { url: server.url, schema, applicationName, poolSize: opts.poolSize, concurrency: opts.concurrency, lockMs: opts.lockMs, maxSleepMs: 20, evidence: true },
});
say(`dispatchers ready; submitting ${plan.length} instances (${plan.reduce((n, p) => n + p.expectedKeys.length, 0)} activities) over ${opts.durationS}s`);

// ---------------------------------------------------------------- chaos
const chaosLog: Array<{ atMs: number; what: string }> = [];
const chaosErrors: string[] = [];
const counts = { kills: 0, terminations: 0, terminatedConnections: 0, restarts: 0 };
const event = (what: string) => {
  chaosLog.push({ atMs: Date.now() - started, what });
  say(`chaos: ${what}`);
};
const chaosError = (err: unknown) => {
  chaosErrors.push(err instanceof Error ? err.message : String(err));
  say(`chaos error: ${chaosErrors.at(-1)}`);
};
const exclusive = new Exclusive();
const chaos: Repeating[] = [];
if (opts.killEveryS) chaos.push(killProcessesEvery(fleet, opts.killEveryS * 1000, (w) => (counts.kills++, event(w)), chaosError));
if (opts.terminateEveryS) {
  chaos.push(terminateConnectionsEvery(server.url, applicationName, opts.terminateEveryS * 1000, (w, n) => {
    counts.terminations++;
    counts.terminatedConnections += n;
    event(w);
  }, chaosError, exclusive));
}
if (opts.restartServer) {
  // Mid-window, under the submission lock so no start or event is in flight while the server is down.
  chaos.push(restartServerAt(
    { ...server, restart: (downMs, how) => exclusive.run(() => server.restart!(downMs, how)) }, opts.restartServer,
    (opts.durationS * 1000) / 2, 1500, (w) => (counts.restarts++, event(w)), chaosError,
  ));
}

// ---------------------------------------------------------------- workload
let settled = false;
let submitError: string | null = null;
try {
  await submitPlan(client, plan, Date.now(), exclusive);
} catch (err) {
  submitError = err instanceof Error ? err.message : String(err);
  say(`submission failed: ${submitError}`);
}
// Keep the chaos going until the window closes, even if submission finished early.
const windowEnd = started + opts.durationS * 1000;
if (Date.now() < windowEnd) await new Promise((r) => setTimeout(r, windowEnd - Date.now()));
await Promise.all(chaos.map((c) => c.stop()));
say('submission window over; chaos stopped; waiting for every instance to finish');
const settleStarted = Date.now();
settled = await waitSettled({
  provider,
  instanceIds: plan.map((p) => p.instanceId),
  deadline: Date.now() + opts.settleS * 1000,
  progressMs: 5000,
  onProgress: (p) => say(`${p.done}/${p.total} planned instances finished; queues ${JSON.stringify(p.depths)}`),
});
const settleMs = Date.now() - settleStarted;
say(settled ? `settled ${settleMs} ms after the window` : `NOT settled after ${opts.settleS}s`);
await fleet.stop(5000);

// ---------------------------------------------------------------- checks
const obs = await collectObservations({ provider, pool, schema, plan, definitions: STRESS_ORCHESTRATIONS });
const requested: Array<[string, number | boolean | null, number]> = [
  ['kill', opts.killEveryS !== null && opts.killEveryS < opts.durationS, counts.kills],
  ['connection termination', opts.terminateEveryS !== null && opts.terminateEveryS < opts.durationS, counts.terminations],
  ['server restart', opts.restartServer !== null, counts.restarts],
];
const harness: CheckResult = {
  name: 'harness and chaos ran as asked',
  checked: requested.filter(([, asked]) => asked).length,
  failures: [
    ...(submitError ? [submitError] : []),
    ...(settled ? [] : [`not settled within ${opts.settleS}s`]),
    ...(fleet.unexpectedExits() > 0 ? [`${fleet.unexpectedExits()} dispatcher processes exited unexpectedly`] : []),
    ...requested.filter(([, asked, n]) => asked && n === 0).map(([what]) => `no ${what} happened`),
    ...chaosErrors.map((e) => `chaos error: ${e}`),
  ],
};
const results = [...runChecks(plan, obs), harness];
const passed = results.every((r) => r.failures.length === 0);

const stats = {
  instances: obs.instances.length,
  planned: plan.length,
  activityAttempts: obs.runs.length,
  retriedAttempts: obs.runs.filter((r) => r.attempt > 1).length,
  historyEvents: obs.instances.reduce((n, i) => n + i.history.length, 0),
  wallMs: Date.now() - started,
  settleMs,
  workerStartRetries: fleet.startFailures(),
  ...counts,
};
console.log(`\n${formatTable(
  ['check', 'checked', 'result', 'first failure'],
  results.map((r) => [r.name, String(r.checked), r.failures.length ? `FAIL (${r.failures.length})` : 'pass', r.failures[0]?.slice(0, 120) ?? '']),
)}\n`);
console.log(formatTable(['figure', 'value'], Object.entries(stats).map(([k, v]) => [k, String(v)])));
const file = await writeResults(`stress-${runId}`, { runId, schema, options: opts, passed, stats, chaos: chaosLog, checks: results }, opts.json);
console.log(`\n${passed ? 'PASS' : 'FAIL'}: results in ${path.relative(process.cwd(), file)}`);

// ---------------------------------------------------------------- cleanup
if (passed && !opts.keepSchema) await pool.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => {});
else say(`schema ${schema} kept for inspection`);
await provider.close();
await pool.end();
await server.stop();
process.exitCode = passed ? 0 : 1;
