/**
 * How a benchmark reports: its figures, each throughput also as a ratio to the run's `pgbench -N`
 * TPS, and each target as pass or short. Printed as a table and written to stress/results/bench-<name>.json.
 */
import { formatTable } from '../table.js';
import { writeResults } from '../results-file.js';
import type { PgbenchResult } from '../pgbench.js';
import type { CpuSplit } from './cpu-meter.js';
import { percentile } from './percentiles.js';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** Show value / pgbench TPS next to it. */
  perPgbench?: boolean;
}

/** A rate measured over several rounds: the median round's, the slowest's and the fastest's, each against pgbench. */
export function roundRateFigures(name: string, rates: readonly number[]): Figure[] {
  return [
    { name: `${name}, median of ${rates.length}`, value: percentile(rates, 50), unit: '1/s', perPgbench: true },
    { name: `${name}, slowest round`, value: Math.min(...rates), unit: '1/s', perPgbench: true },
    { name: `${name}, fastest round`, value: Math.max(...rates), unit: '1/s', perPgbench: true },
  ];
}

/**
 * CPU per unit of work, dispatcher processes and database server apart (cpu-meter.ts); the server's
 * is left out when it could not be read. Benchmark processes wait on the database while polling for
 * completion, which the runtime side includes. Where pgbench's CPU per transaction is known, also
 * as multiples of it: the database side against the server's, both sides against the server's and
 * pgbench's together (a unit that costs 1.5x a transaction cannot reach 1.0x its TPS on shared cores).
 */
export function cpuFigures(split: CpuSplit, units: number, unit: string, pgbench: PgbenchResult): Figure[] {
  const runtimeUs = (split.runtimeMs * 1000) / units;
  const figures: Figure[] = [{ name: `runtime CPU per ${unit}`, value: runtimeUs, unit: 'us' }];
  if (split.serverMs === null) return figures;
  const serverUs = (split.serverMs * 1000) / units;
  figures.push({ name: `database CPU per ${unit}`, value: serverUs, unit: 'us' });
  const tx = pgbench.cpuPerTransaction;
  if (tx) {
    figures.push({ name: `database CPU per ${unit} / per pgbench transaction`, value: serverUs / tx.serverUs, unit: 'x' });
    figures.push({ name: `all CPU per ${unit} / per pgbench transaction`, value: (runtimeUs + serverUs) / (tx.serverUs + tx.pgbenchUs), unit: 'x' });
  }
  return figures;
}

export interface Target {
  what: string;
  pass: boolean;
}

export interface BenchResult {
  name: string;
  /** Sizes and settings the figures were measured with. */
  params: Record<string, number | string>;
  figures: Figure[];
  targets: Target[];
  /** Extra detail for the JSON only (breakdowns, raw samples summaries). */
  details?: Record<string, unknown>;
}

const fmt = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));

export async function reportBench(result: BenchResult, pgbench: PgbenchResult): Promise<void> {
  console.log(`\n== ${result.name}  ${Object.entries(result.params).map(([k, v]) => `${k}=${v}`).join(' ')}  (pgbench -N: ${fmt(pgbench.tps)} tps)`);
  console.log(formatTable(
    ['figure', 'value', 'unit', 'x pgbench'],
    result.figures.map((f) => [f.name, fmt(f.value), f.unit, f.perPgbench ? `${(f.value / pgbench.tps).toFixed(2)}x` : '']),
  ));
  if (result.targets.length) console.log(formatTable(['target', 'result'], result.targets.map((t) => [t.what, t.pass ? 'pass' : 'SHORT'])));
  const ratios = Object.fromEntries(result.figures.filter((f) => f.perPgbench).map((f) => [f.name, f.value / pgbench.tps]));
  await writeResults(`bench-${result.name}`, { ...result, pgbench, ratiosToPgbench: ratios, at: new Date().toISOString() });
}
