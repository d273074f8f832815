/** The command-line body the plan checkers (explain-plans.ts, explain-batches.ts) share. */

/** One check of a command-line plan checker: its plans (printed) and what it found wrong. */
export interface PlanCheck {
  plans: Array<{ label: string; plan: string }>;
  problems: string[];
  /** The line printed when nothing is wrong, and the heading of the list when something is. */
  ok: string;
  failed: string;
}

/** The command-line body of a plan checker: runs each check on the test server, prints, exit code 1 on any problem. */
export async function runPlanChecks(checks: Array<(url: string) => Promise<PlanCheck>>): Promise<number> {
  const { testServer, stopTestServer } = await import('../test/db.js');
  const { url } = await testServer();
  try {
    let failed = false;
    for (const check of checks) {
      const result = await check(url);
      for (const p of result.plans) console.log(`--- ${p.label}\n${p.plan}\n`);
      if (result.problems.length) {
        console.error(`${result.failed}:\n  ${result.problems.join('\n  ')}`);
        failed = true;
      } else {
        console.log(result.ok);
      }
    }
    return failed ? 1 : 0;
  } finally {
    await stopTestServer();
  }
}
