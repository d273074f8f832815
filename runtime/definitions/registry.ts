import { InvalidDefinitionError } from '../errors.js';
import type { OrchestrationDefinition } from './orchestration-definition.js';

export interface OrchestrationRegistry {
  /** The definition of `name` at `version`, or the newest version when `version` is absent; undefined when unknown. */
  lookup(name: string, version?: string): OrchestrationDefinition | undefined;
  /** Every registered definition. */
  list(): OrchestrationDefinition[];
}

/**
 * Several versions of one name may be registered side by side. "Newest" orders versions with a
 * numeric-aware comparison: runs of digits compare as numbers, other runs as strings
 * ('2' < '10', '1.9' < '1.10', 'v2' < 'v10'); ties on that compare fall back to plain string order.
 * A duplicate (name, version) is an InvalidDefinitionError.
 */
export function createRegistry(defs: readonly OrchestrationDefinition[]): OrchestrationRegistry {
  const byName = new Map<string, Map<string, OrchestrationDefinition>>();
  for (const def of defs) {
    if (def?.kind !== 'orchestration') throw new InvalidDefinitionError('createRegistry() expects definitions made by defineOrchestration()');
    const versions = byName.get(def.name) ?? new Map<string, OrchestrationDefinition>();
    if (versions.has(def.version)) {
      throw new InvalidDefinitionError(`orchestration '${def.name}' version '${def.version}' is registered twice`, { name: def.name, version: def.version });
    }
    versions.set(def.version, def);
    byName.set(def.name, versions);
  }
  const newest = new Map<string, OrchestrationDefinition>();
  for (const [name, versions] of byName) {
    const sorted = [...versions.keys()].sort(compareVersions);
    newest.set(name, versions.get(sorted[sorted.length - 1]!)!);
  }
  return {
    lookup: (name, version) => (version === undefined ? newest.get(name) : byName.get(name)?.get(version)),
    list: () => [...defs],
  };
}

export function compareVersions(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    const bothNumeric = /^\d/.test(x) && /^\d/.test(y);
    const c = bothNumeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return Math.sign(c);
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
