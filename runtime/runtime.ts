/**
 * createRuntime: one orchestration dispatcher and one worker dispatcher over one provider. The
 * runtime owns neither the provider nor the logger: the caller opens and closes them.
 */
import type { Logger } from 'pino';
import type { Provider } from '../providers/contract.js';
import { InvalidArgumentError } from '../providers/errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './client/client.js';
import type { ActivityDefinition } from './definitions/activity-definition.js';
import type { OrchestrationDefinition } from './definitions/orchestration-definition.js';
import { createRegistry } from './definitions/registry.js';
import { DEFAULT_UNKNOWN_DEFINITION_DELAY_MS } from './engine/api.js';
import type { DispatchLoop } from './dispatch/dispatch-loop.js';
import { createOrchestrationDispatcher } from './dispatch/orchestration-dispatcher.js';
import { createWorkerDispatcher } from './dispatch/worker-dispatcher.js';
import { InvalidDefinitionError } from './errors.js';
import { createDefaultLogger, defaultOwner } from './logger.js';

export interface RuntimeOptions {
  provider: Provider;
  orchestrations?: readonly OrchestrationDefinition[];
  activities?: readonly ActivityDefinition[];
  /** Items processed at once per dispatcher. Default 10 each. */
  concurrency?: { orchestrations?: number; activities?: number };
  /** How long a fetched item stays locked without renewal; renewed every lockMs/3 while work runs. Default 30 s. */
  lockMs?: number;
  /**
   * Fetches of the same messages before the engine fails the instance as poisoned (PoisonMessageError),
   * and the ceiling on any activity's attempts (its own retry.maxAttempts applies when lower). Default 10.
   */
  maxAttempts?: number;
  /** On a NondeterminismError: fail the instance (default) or leave it suspended with the error. */
  onNondeterminism?: 'fail' | 'suspend';
  /** Largest serialized input, event, activity output or context accepted, in bytes. Default 256 KiB. */
  maxPayloadBytes?: number;
  logger?: Logger;
  /** Identifies this process in locks (diagnostics). Default `host:pid`. */
  owner?: string;
  /** Longest a fetch waits for work before asking again (it returns early on notifications). Default 5 s. */
  pollWaitMs?: number;
  /** How long work this process cannot run (an unregistered orchestration or activity) is left for other processes. Default 5 s. */
  unknownDefinitionDelayMs?: number;
  /**
   * Instances whose live machine this process keeps between their turns, so that their next turn
   * here skips restoring the stored snapshot (least recently used go first). 0 restores every turn.
   * Default 1000.
   */
  machineCacheSize?: number;
}

export interface Runtime {
  /** Start both dispatchers. Idempotent. */
  start(): Promise<void>;
  /**
   * Stop fetching, let in-flight work finish within `graceMs` (default 10 s), abandon the rest
   * without counting the attempt; resolves when everything has settled. Does not close the provider.
   */
  shutdown(opts?: { graceMs?: number }): Promise<void>;
}

function integerOption(value: number | undefined, fallback: number, what: string, min = 1): number {
  const v = value ?? fallback;
  if (!(Number.isInteger(v) && v >= min)) throw new InvalidArgumentError(`${what} must be ${min === 1 ? 'a positive integer' : `an integer >= ${min}`}`, { what, value });
  return v;
}

const DEFAULT_MACHINE_CACHE_SIZE = 1000;

export function createRuntime(opts: RuntimeOptions): Runtime {
  const lockMs = integerOption(opts.lockMs, 30_000, 'lockMs');
  const maxAttempts = integerOption(opts.maxAttempts, 10, 'maxAttempts');
  const maxPayloadBytes = integerOption(opts.maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES, 'maxPayloadBytes');
  const pollWaitMs = integerOption(opts.pollWaitMs, 5_000, 'pollWaitMs');
  const unknownDefinitionDelayMs = integerOption(opts.unknownDefinitionDelayMs, DEFAULT_UNKNOWN_DEFINITION_DELAY_MS, 'unknownDefinitionDelayMs');
  const logger = opts.logger ?? createDefaultLogger();
  const owner = opts.owner ?? defaultOwner();
  const registry = createRegistry(opts.orchestrations ?? []);
  const activities = opts.activities ?? [];
  const names = new Set<string>();
  for (const def of activities) {
    if (def?.kind !== 'activity') throw new InvalidDefinitionError('activities must be made by defineActivity()');
    if (names.has(def.name)) throw new InvalidDefinitionError(`activity '${def.name}' is registered twice`, { name: def.name });
    names.add(def.name);
  }

  const worker = createWorkerDispatcher({
    provider: opts.provider,
    activities,
    concurrency: integerOption(opts.concurrency?.activities, 10, 'concurrency.activities'),
    lockMs,
    maxAttempts,
    maxPayloadBytes,
    pollWaitMs,
    unknownActivityDelayMs: unknownDefinitionDelayMs,
    owner,
    logger,
    orchestrationSlot: () => orchestrations.reserve(1),
  });
  const orchestrations = createOrchestrationDispatcher({
    provider: opts.provider,
    registry,
    turnOptions: { maxAttempts, onNondeterminism: opts.onNondeterminism ?? 'fail', maxPayloadBytes, unknownDefinitionDelayMs },
    concurrency: integerOption(opts.concurrency?.orchestrations, 10, 'concurrency.orchestrations'),
    lockMs,
    pollWaitMs,
    owner,
    logger,
    workerSlots: (n) => worker.reserve(n),
    machineCacheSize: integerOption(opts.machineCacheSize, DEFAULT_MACHINE_CACHE_SIZE, 'machineCacheSize', 0),
  });
  const dispatchers: DispatchLoop[] = [orchestrations, worker];
  let stopped: Promise<void> | undefined;

  return {
    async start() {
      if (stopped) throw new InvalidArgumentError('the runtime was shut down; create a new one');
      for (const d of dispatchers) d.start();
    },
    shutdown({ graceMs = 10_000 } = {}) {
      stopped ??= Promise.all(dispatchers.map((d) => d.stop(graceMs))).then(() => undefined);
      return stopped;
    },
  };
}
