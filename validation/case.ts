/**
 * The vocabulary of the validation suite: a case, what it runs with, and the JSON-able report.
 * Conformance, property and fault cases all have this one shape, so one runner serves them all.
 */
import type { ProviderUnderTest } from './factory.js';

export interface ValidationOptions {
  /** Label in output and in the report, e.g. 'postgres'. */
  name?: string;
  /** Run only the cases whose full name (`category: name`) matches. */
  grep?: string | RegExp;
  /** fast-check seed for the property half. */
  seed?: number;
  /** fast-check numRuns for the property half (each property picks a small default to keep CI fast). */
  runs?: number;
  /** A case still running after this long fails (a hung long-poll must not hang the suite). Default 30 s. */
  caseTimeoutMs?: number;
  /** Called once with the whole report when every case has run. */
  report?: (result: ValidationReport) => void;
}

export interface CaseContext {
  /** Fresh from the factory for this case; closed by the runner afterwards. */
  put: ProviderUnderTest;
  options: ValidationOptions;
}

export interface ValidationCase {
  category: string;
  name: string;
  /** Needs `put.clock` (lock expiry, delayed visibility): 'not-applicable' without one. */
  needsClock?: boolean;
  /** Needs `put.faults`: 'not-applicable' without them. */
  needsFaults?: boolean;
  /** Throws (an assertion error, or anything) to fail. An error carrying `counterexample` and/or `seed` properties has them copied into the report. */
  run(ctx: CaseContext): Promise<void>;
}

export type CaseStatus = 'passed' | 'failed' | 'not-applicable';

export interface CaseReport {
  category: string;
  name: string;
  status: CaseStatus;
  /** Failures: the error's name and message; not-applicable: why. */
  error?: string;
  counterexample?: unknown;
  seed?: number;
  durationMs: number;
}

export interface ValidationReport {
  name: string;
  passed: number;
  failed: number;
  notApplicable: number;
  cases: CaseReport[];
}
