/**
 * The dispatcher processes of a stress run: N slots, each running stress/worker-process. A
 * killed slot is restarted at once with a fresh process (as a supervisor would). Each process's
 * output goes to its own log file, so a failed run can be diagnosed without flooding the console.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { harnessModule, nodeArgsFor } from './checkout.js';
import type { WorkerConfig } from './worker-process.js';

const WORKER = harnessModule(path.dirname(fileURLToPath(import.meta.url)), 'worker-process');
const READY_TIMEOUT_MS = 60_000;
const START_RETRY_MS = 1000;

export interface Fleet {
  readonly size: number;
  /** SIGKILL the process in `slot` and start a replacement; resolves when the replacement is ready. */
  killAndRestart(slot: number): Promise<void>;
  /** Ready processes that exited without being asked to (crashes other than our kills). */
  unexpectedExits(): number;
  /** Processes that died while starting and were started again (e.g. during a server restart). */
  startFailures(): number;
  /** SIGTERM everything, SIGKILL what is still alive after `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** Process ids of the slots' current processes. */
  pids(): number[];
}

/**
 * What the README recommends for dispatcher processes (and `npm run bench` passes to its own): V8's
 * young generation at 64 MB instead of 16. A dispatcher's in-flight turns outlive the default's
 * scavenges and are copied and promoted; throughput benchmark, three interleaved pairs: Node's CPU
 * per turn 84 -> 74 us, scavenge pauses 967 -> 572 ms per run. At 64 MB from the start, not grown
 * there: growing, the process's second 2,000 orchestrations still took 1.5-1.8x the Node CPU per turn
 * of the next ones; at 64 MB from the start, 1.0-1.3x (three runs each).
 */
const DISPATCHER_NODE_FLAGS = ['--max-semi-space-size=64', '--min-semi-space-size=64'];

export async function startFleet(opts: { size: number; config: WorkerConfig; logDir: string }): Promise<Fleet> {
  const slots: Array<ChildProcess | undefined> = new Array(opts.size).fill(undefined);
  const expected = new Set<ChildProcess>(); // exits we caused
  let unexpected = 0;
  let startFailures = 0;
  let generation = 0;

  /** One process for the slot; rejects if it exits before reporting ready. */
  const launchOnce = (slot: number): Promise<void> => {
    const log: WriteStream = createWriteStream(path.join(opts.logDir, `worker-${slot}.${generation++}.log`));
    const child = spawn(process.execPath, [...DISPATCHER_NODE_FLAGS, ...nodeArgsFor(WORKER)], {
      env: { ...process.env, STRESS_WORKER_CONFIG: JSON.stringify(opts.config) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    slots[slot] = child;
    let ready = false;
    child.once('exit', () => {
      if (ready && !expected.has(child)) unexpected++;
    });
    // A process hung while starting is killed, which turns into the exit below.
    const hung = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS);
    return new Promise((resolve, reject) => {
      child.once('message', () => {
        ready = true;
        clearTimeout(hung);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(hung);
        reject(new Error(`worker ${slot} exited with ${code} before it was ready (see ${log.path})`));
      });
    });
  };

  /**
   * Like a supervisor: a process that dies while starting (the server may be restarting) is started
   * again, until READY_TIMEOUT_MS.
   */
  const launch = async (slot: number): Promise<void> => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        return await launchOnce(slot);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        startFailures++;
        await new Promise((r) => setTimeout(r, START_RETRY_MS));
      }
    }
  };

  const exited = (child: ChildProcess): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));

  await Promise.all(slots.map((_, slot) => launch(slot)));

  return {
    size: opts.size,
    async killAndRestart(slot) {
      const child = slots[slot];
      if (child) {
        expected.add(child);
        child.kill('SIGKILL');
        await exited(child);
      }
      await launch(slot);
    },
    unexpectedExits: () => unexpected,
    startFailures: () => startFailures,
    pids: () => slots.flatMap((c) => (c?.pid === undefined ? [] : [c.pid])),
    async stop(graceMs) {
      const children = slots.filter((c): c is ChildProcess => c !== undefined);
      for (const c of children) {
        expected.add(c);
        c.kill('SIGTERM');
      }
      const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), graceMs);
      await Promise.all(children.map(exited));
      clearTimeout(timer);
    },
  };
}
