/**
 * Load the module a worker runs: it exports `orchestrations` and `activities` arrays, either as
 * named exports or as properties of its default export. TypeScript modules load too (the bin shim
 * registered tsx).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ActivityDefinition, OrchestrationDefinition } from '../index.js';
import { UsageError } from './command.js';

export interface WorkerModule {
  file: string;
  orchestrations: OrchestrationDefinition[];
  activities: ActivityDefinition[];
}

interface Exports {
  orchestrations?: unknown;
  activities?: unknown;
  default?: { orchestrations?: unknown; activities?: unknown };
}

function arrayOrEmpty(value: unknown, what: string, file: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new UsageError(`${file}: '${what}' must be an array`);
  return value;
}

export async function loadWorkerModule(modulePath: string): Promise<WorkerModule> {
  const file = path.resolve(modulePath);
  let mod: Exports;
  try {
    mod = (await import(pathToFileURL(file).href)) as Exports;
  } catch (e) {
    throw new UsageError(`cannot load module ${file}: ${(e as Error).message}`);
  }
  const source = mod.orchestrations !== undefined || mod.activities !== undefined ? mod : (mod.default ?? {});
  const orchestrations = arrayOrEmpty(source.orchestrations, 'orchestrations', file);
  const activities = arrayOrEmpty(source.activities, 'activities', file);
  if (orchestrations.length === 0 && activities.length === 0) {
    throw new UsageError(`${file} exports no 'orchestrations' or 'activities' array (named, or on its default export)`);
  }
  // Each definition is checked by createRuntime (InvalidDefinitionError names the bad one).
  return { file, orchestrations: orchestrations as OrchestrationDefinition[], activities: activities as ActivityDefinition[] };
}
