/** Where stress runs and benchmarks leave their JSON: stress/results/ (git-ignored) unless a path is given. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CHECKOUT_ROOT } from './checkout.js';

export const RESULTS_DIR = path.join(CHECKOUT_ROOT, 'stress', 'results');

export async function writeResults(name: string, data: unknown, explicitPath?: string): Promise<string> {
  const file = explicitPath ? path.resolve(explicitPath) : path.join(RESULTS_DIR, `${name}.json`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
