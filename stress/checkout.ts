/**
 * Where the harness's files live, whether it runs from its TypeScript sources (tsx) or compiled
 * (`npm run bench` runs the JavaScript tsc makes into .bench-build/, as users run the package):
 * paths are taken from the checkout's root, the nearest folder up with a package.json, not from
 * the running module's folder.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);

function findRoot(from: string): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const CHECKOUT_ROOT = findRoot(here);

/** The running harness's own module `name` (no extension): `.ts` from the sources, `.js` compiled. */
export function harnessModule(dir: string, name: string): string {
  return path.join(dir, `${name}${path.extname(here)}`);
}

/** How node runs such a module: TypeScript sources through tsx, compiled JavaScript as it is. */
export function nodeArgsFor(modulePath: string): string[] {
  return modulePath.endsWith('.ts') ? ['--import', 'tsx', modulePath] : [modulePath];
}
