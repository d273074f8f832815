/** The shape of one benchmark, and running one alone (`node --import tsx stress/bench/<name>.ts [--scale 0.01]`). */
import { pathToFileURL } from 'node:url';
import { createBenchContext, parseBenchOptions, type BenchContext } from './bench-context.js';
import { reportBench, type BenchResult } from './report.js';

export interface Bench {
  name: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** True when `moduleUrl` is the file node was asked to run. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

export async function runBenches(benches: readonly Bench[], argv: string[]): Promise<void> {
  const ctx = await createBenchContext(parseBenchOptions(argv));
  const tx = ctx.pgbench.cpuPerTransaction;
  const cpu = tx ? `, CPU per transaction: server ${tx.serverUs.toFixed(0)} us, pgbench ${tx.pgbenchUs.toFixed(0)} us` : '';
  console.log(`pgbench -N: ${ctx.pgbench.tps.toFixed(0)} tps (${ctx.pgbench.clients} clients, ${ctx.pgbench.seconds}s${cpu}); server from ${ctx.server.source}; scale ${ctx.options.scale}`);
  try {
    for (const bench of benches) await reportBench(await bench.run(ctx), ctx.pgbench);
  } finally {
    await ctx.close();
  }
}
