/**
 * Rates against a yardstick measured around them. The box the benchmarks run on is shared and its
 * speed drifts within minutes: in one session `pgbench -N` gave 2,100 to 3,900 TPS across runs, yet
 * within ±3% when run back to back. A ratio to the TPS measured at the start of a run moves with that
 * drift as much as with durastate; a ratio to the TPS measured right before and right after the phase
 * it divides does not.
 */

/** Each rate over the mean of the TPS measured just before it and just after it (`tpsAround[i]`, `tpsAround[i + 1]`). */
export function bracketedRatios(rates: readonly number[], tpsAround: readonly number[]): number[] {
  if (tpsAround.length !== rates.length + 1) {
    throw new Error(`${rates.length} rates need ${rates.length + 1} yardstick measurements around them, got ${tpsAround.length}`);
  }
  return rates.map((rate, i) => rate / ((tpsAround[i]! + tpsAround[i + 1]!) / 2));
}
