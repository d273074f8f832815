export { runTurn } from './run-turn.js';
export { replayHistory, type ReplayResult } from './replay.js';
export { assertJsonSafe } from '../../providers/json-safety.js';
export { toErrorInfo } from './error-info.js';
export type { Command } from './commands.js';
export type { StoredSnapshot, Pending } from './stored-snapshot.js';
export {
  DEFAULT_NOT_STARTED_DELAY_MS,
  DEFAULT_UNKNOWN_DEFINITION_DELAY_MS,
  type AfterCommitAction,
  type TurnInput,
  type TurnLogEntry,
  type TurnOptions,
  type TurnOutcome,
} from './api.js';
