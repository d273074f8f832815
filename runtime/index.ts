/**
 * durastate: the package's public entry. Everything a user needs to define orchestrations and
 * activities, run them (createRuntime), drive them (createClient), and recognise its errors.
 * The PostgreSQL provider (the product) and the database resolver (a URL, else the embedded default)
 * are re-exported here so that a user needs one import; `durastate/providers` has the contract alone.
 */
export * from './definitions/index.js';
export * from './engine/index.js';

export { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';
export type { AfterCommitArgs } from './dispatch/after-commit.js';
export { createClient, DEFAULT_MAX_PAYLOAD_BYTES, type Client, type ClientOptions, type StartOptions } from './client/client.js';
export type { InstanceStatusView, ClientInstanceStatus } from './client/instance-status.js';
export type { EmittedEventMeta, EmittedListener, SubscribeOptions } from './client/emitted-events.js';
export type { ContextOf, EmittedOf, EventOf, InputOf, OutputOf } from './client/machine-types.js';
export { createDefaultLogger, type Logger } from './logger.js';
export { openDatabase, resolveDatabaseUrl, EmbeddedDatabaseError, type OpenDatabase, type OpenDatabaseOptions } from './database.js';
export { openPostgresProvider, migrate, type PostgresProvider, type PostgresProviderOptions } from '../providers/postgres/index.js';
export { MemoryProvider } from '../providers/memory/index.js';
export { ManualClock, type Clock } from '../providers/clock.js';

export * from '../providers/errors.js';
export * from './errors.js';
export { WaitTimeoutError } from './client/errors.js';
export { ActivityTimeoutError, RuntimeShutdownError } from './dispatch/errors.js';
export type * from '../providers/contract.js';
