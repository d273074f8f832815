/**
 * A pool that counts round trips: every `pool.query` call, by prepared-statement name (the
 * provider names each statement `ds_<schema>_<key>`; the key is what is counted). Passed to the
 * provider through its `pool` option, so the provider is measured exactly as it runs.
 */
import type pg from 'pg';

export interface QueryCounter {
  total(): number;
  byStatement(): Record<string, number>;
  reset(): void;
}

export function countingPool(pool: pg.Pool, schema: string): { pool: pg.Pool; counter: QueryCounter } {
  const counts = new Map<string, number>();
  const keyOf = (args: unknown[]): string => {
    const first = args[0] as { name?: string; text?: string } | string;
    const name = typeof first === 'string' ? undefined : first?.name;
    if (!name) return 'unnamed';
    // Statement names carry the schema (or, when too long, a 16-hex hash of it); keep only the statement's own key.
    return name.startsWith(`ds_${schema}_`) ? name.slice(`ds_${schema}_`.length) : name.replace(/^ds_[0-9a-f]{16}_/, '');
  };
  const counted = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return (...args: unknown[]) => {
        const key = keyOf(args);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return (target.query as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    pool: counted,
    counter: {
      total: () => [...counts.values()].reduce((a, b) => a + b, 0),
      byStatement: () => Object.fromEntries([...counts.entries()].sort((a, b) => b[1] - a[1])),
      reset: () => counts.clear(),
    },
  };
}
