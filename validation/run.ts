/**
 * Runs validation cases against a provider factory: each case gets a fresh provider, which is
 * closed afterwards, and ends as one entry of a JSON-able report. `runCases` runs them directly
 * (for tests that inspect the report, e.g. against mutant providers); `runProviderValidation`
 * registers them with uvu, one suite per category, so a provider author's test file prints uvu's
 * usual output and summary.
 */
import { suite } from 'uvu';
import type { CaseReport, ValidationCase, ValidationOptions, ValidationReport } from './case.js';
import type { ProviderFactory, ProviderUnderTest } from './factory.js';
import { allCases } from './cases.js';

const DEFAULT_CASE_TIMEOUT_MS = 30_000;

/** What the factory's providers offer; cases needing more are not applicable. */
interface Capabilities {
  clock: boolean;
  faults: boolean;
}

function capabilitiesOf(put: ProviderUnderTest): Capabilities {
  return { clock: put.clock !== undefined, faults: put.faults !== undefined };
}

function missingCapability(c: ValidationCase, caps: Capabilities): string | null {
  if (c.needsClock && !caps.clock) return 'needs an injectable clock (the factory gave no `clock`)';
  if (c.needsFaults && !caps.faults) return 'needs fault hooks (the factory gave no `faults`)';
  return null;
}

export function fullName(c: ValidationCase): string {
  return `${c.category}: ${c.name}`;
}

function selected(cases: ValidationCase[], grep: ValidationOptions['grep']): ValidationCase[] {
  if (grep === undefined) return cases;
  const pattern = typeof grep === 'string' ? new RegExp(grep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : grep;
  return cases.filter((c) => pattern.test(fullName(c)));
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One case on a fresh provider. Resolves with its report entry and, for a failure, the error
 * (so the uvu runner can rethrow it with its stack). A provider that cannot give what the case
 * needs gives 'not-applicable'. A failing `close()` fails the case: leaking is a bug too.
 */
async function runCase(c: ValidationCase, factory: ProviderFactory, options: ValidationOptions): Promise<{ report: CaseReport; error?: unknown }> {
  const started = Date.now();
  const base = { category: c.category, name: c.name };
  const timeoutMs = options.caseTimeoutMs ?? DEFAULT_CASE_TIMEOUT_MS;
  let put: ProviderUnderTest | undefined;
  let failure: unknown;
  let notApplicable: string | null = null;
  try {
    put = await withTimeout(factory(), timeoutMs, 'the provider factory');
    notApplicable = missingCapability(c, capabilitiesOf(put));
    if (notApplicable === null) await withTimeout(c.run({ put, options }), timeoutMs, `case '${fullName(c)}'`);
  } catch (error) {
    failure = error;
  } finally {
    try {
      await put?.close();
    } catch (error) {
      failure ??= error;
    }
  }
  const durationMs = Date.now() - started;
  if (failure !== undefined) {
    const extra = (failure ?? {}) as { counterexample?: unknown; seed?: unknown };
    const report: CaseReport = { ...base, status: 'failed', error: describeError(failure), durationMs };
    if (extra.counterexample !== undefined) report.counterexample = extra.counterexample;
    if (typeof extra.seed === 'number') report.seed = extra.seed;
    return { report, error: failure };
  }
  if (notApplicable !== null) return { report: { ...base, status: 'not-applicable', error: notApplicable, durationMs } };
  return { report: { ...base, status: 'passed', durationMs } };
}

function summarise(name: string, cases: CaseReport[]): ValidationReport {
  const count = (status: CaseReport['status']) => cases.filter((c) => c.status === status).length;
  return { name, passed: count('passed'), failed: count('failed'), notApplicable: count('not-applicable'), cases };
}

/** Run the cases one after another, without uvu, and collect the report. */
export async function runCases(cases: ValidationCase[], factory: ProviderFactory, options: ValidationOptions = {}): Promise<ValidationReport> {
  const reports: CaseReport[] = [];
  for (const c of selected(cases, options.grep)) reports.push((await runCase(c, factory, options)).report);
  const report = summarise(options.name ?? 'provider', reports);
  options.report?.(report);
  return report;
}

/**
 * The whole suite (conformance, properties, faults) as uvu suites, one per category. Probes the
 * factory once for its capabilities so that cases it cannot run are reported 'not-applicable'
 * instead of being registered. Resolves with the report when the last case has run.
 */
export async function runProviderValidation(factory: ProviderFactory, options: ValidationOptions = {}): Promise<ValidationReport> {
  const cases = selected(allCases(options), options.grep);
  const probe = await factory();
  const caps = capabilitiesOf(probe);
  await probe.close();

  const label = options.name ?? 'provider';
  const reports: CaseReport[] = [];
  const runnable: ValidationCase[] = [];
  for (const c of cases) {
    const why = missingCapability(c, caps);
    if (why === null) runnable.push(c);
    else reports.push({ category: c.category, name: c.name, status: 'not-applicable', error: why, durationMs: 0 });
  }

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let remaining = runnable.length;
  const categories = [...new Set(runnable.map((c) => c.category))];
  for (const category of categories) {
    const uvuSuite = suite(`${label} · ${category}`);
    for (const c of runnable.filter((x) => x.category === category)) {
      uvuSuite(c.name, async () => {
        const { report, error } = await runCase(c, factory, options);
        reports.push(report);
        if (--remaining === 0) finish();
        if (report.status === 'failed') throw error;
      });
    }
    uvuSuite.run();
  }
  if (remaining > 0) await finished;

  const report = summarise(label, reports);
  options.report?.(report);
  return report;
}
