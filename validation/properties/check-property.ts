/**
 * Turns one property spec into a validation case: fast-check generates command sequences, each is
 * run against the provider under test and a fresh memory reference in lockstep, and a failure is
 * reported with the shrunk command sequence, the seed and the path that replay it.
 *
 * One provider serves every run of a case (a fresh one per run would cost a schema per run on
 * Postgres): each run uses instance ids of its own and ends with the queues drained.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ManualClock } from '../../providers/clock.js';
import { MemoryProvider } from '../../providers/memory/index.js';
import type { CaseContext, ValidationCase, ValidationOptions } from '../case.js';
import { commandArbitraries, type Cmd, type CommandMix } from './commands.js';
import { drainAndCheck, scrub } from './drain.js';
import { Lockstep } from './lockstep.js';
import { type Invariant, QueueModel } from './model.js';

export interface PropertySpec {
  invariant: Invariant;
  /** States the invariant: it is the case name users read in a report. */
  name: string;
  mix: CommandMix;
}

export const PROPERTY_CATEGORY = 'properties';
/** Small enough that every property against Postgres stays well under a minute; `runs` scales it up. */
export const DEFAULT_RUNS = 15;
const MAX_COMMANDS = 30;

/** A failed property; the runner copies `seed` and `counterexample` into the report. */
export class PropertyFailure extends Error {
  constructor(message: string, readonly seed: number, readonly counterexample: string | null, readonly path: string | null) {
    super(message);
    this.name = 'PropertyFailure';
  }
}

function replayHint(spec: PropertySpec, options: ValidationOptions, seed: number, path: string | null): string {
  const provider = options.name ?? '<provider>';
  return `Replay: durastate validate --provider ${provider} --grep '${spec.name}' --seed ${seed}`
    + ` (or fc.check with { seed: ${seed}, path: '${path}' })`;
}

async function checkProperty(spec: PropertySpec, { put, options }: CaseContext): Promise<void> {
  const clock = put.clock!;
  const caseTag = randomBytes(3).toString('hex');
  let run = 0;
  const property = fc.asyncProperty(fc.commands(commandArbitraries(spec.mix), { maxCommands: MAX_COMMANDS, size: 'max' }), async (cmds: Iterable<Cmd>) => {
    run += 1;
    const instanceIds = Array.from({ length: spec.mix.instances }, (_, i) => `prop-${spec.invariant}-${caseTag}-${run}-i${i}`);
    // The reference starts at the same time as the provider's clock and moves with it.
    const refClock = new ManualClock(clock.now());
    const ref = new MemoryProvider({ clock: refClock });
    const model = new QueueModel(instanceIds, spec.mix.dispatchers, clock.now(), new Set([spec.invariant]));
    const real = new Lockstep(put.provider, clock, ref, refClock);
    try {
      await fc.asyncModelRun(() => ({ model, real }), cmds);
      await drainAndCheck(model, real);
    } catch (error) {
      await scrub(put.provider, clock).catch(() => {}); // the next (shrinking) run needs empty queues
      throw error;
    } finally {
      await ref.close();
    }
  });
  const params: fc.Parameters<[Iterable<Cmd>]> = { numRuns: options.runs ?? DEFAULT_RUNS };
  if (options.seed !== undefined) params.seed = options.seed;
  const details = await fc.check(property, params);
  if (!details.failed) return;
  const counterexample = details.counterexample ? fc.stringify(details.counterexample[0]) : null;
  const message = [
    `property failed: ${spec.name}`,
    `shrunk command sequence: ${counterexample}`,
    `what went wrong: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
    fc.defaultReportMessage(details) ?? '',
    replayHint(spec, options, details.seed, details.counterexamplePath),
  ].join('\n');
  throw new PropertyFailure(message, details.seed, counterexample, details.counterexamplePath);
}

export function propertyCase(spec: PropertySpec): ValidationCase {
  return { category: PROPERTY_CATEGORY, name: spec.name, needsClock: true, run: (ctx) => checkProperty(spec, ctx) };
}
