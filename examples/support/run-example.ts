/**
 * Makes an example file runnable alone (`node --import tsx examples/<name>.ts`) while it stays an
 * importable module of definitions for the demo, the tests and `durastate worker --module`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '../../runtime/index.js';
import { openExampleSession, type Definitions } from './session.js';

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return !!process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}

/** Open a session on the default database, run the example's story, close everything, set the exit code. */
export async function runExample(defs: Definitions, story: (client: Client) => Promise<void>): Promise<void> {
  const session = await openExampleSession(defs);
  console.log(`(PostgreSQL: ${session.source})`);
  try {
    await story(session.client);
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  } finally {
    await session.close();
  }
}
