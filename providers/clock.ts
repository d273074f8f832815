/**
 * The single clock a provider judges locks and visibility by. Providers use their own
 * (the database's for Postgres) unless one is injected: tests inject a ManualClock to skew
 * time and to expire locks without sleeping.
 */
export interface Clock {
  now(): number;
}

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  private current: number;

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance needs a finite ms >= 0, got ${ms}`);
    this.current += ms;
    return this.current;
  }

  set(ms: number): void {
    this.current = ms;
  }
}
