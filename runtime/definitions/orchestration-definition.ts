import type { AnyStateMachine } from 'xstate';
import { InvalidDefinitionError } from '../errors.js';
import { definitionHash } from './definition-hash.js';
import { validateMachine } from './validate-machine.js';

/** A registered orchestration. `M` keeps the machine's type so clients can derive input/output/event types. */
export interface OrchestrationDefinition<M extends AnyStateMachine = AnyStateMachine> {
  readonly kind: 'orchestration';
  readonly name: string;
  readonly version: string;
  readonly machine: M;
  /** See definition-hash.ts for what it covers. */
  readonly definitionHash: string;
}

/** Validate a machine for durable execution (InvalidDefinitionError naming the state) and register it under a name and version (default '1'). */
export function defineOrchestration<M extends AnyStateMachine>(name: string, machine: M, opts: { version?: string } = {}): OrchestrationDefinition<M> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidDefinitionError('an orchestration needs a non-empty name', { name });
  const version = opts.version ?? '1';
  if (typeof version !== 'string' || version.length === 0) throw new InvalidDefinitionError(`orchestration '${name}': version must be a non-empty string`, { name });
  validateMachine(name, machine);
  return Object.freeze({ kind: 'orchestration' as const, name, version, machine, definitionHash: definitionHash(machine) });
}
