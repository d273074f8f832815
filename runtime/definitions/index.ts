export { defineActivity, type ActivityContext, type ActivityDefinition, type ActivityOptions } from './activity-definition.js';
export { DEFAULT_RETRY_POLICY, resolveRetryPolicy, retryDelayMs, type RetryPolicy } from './retry-policy.js';
export { activity, fanOut, orchestration, readPlaceholder, MAX_BATCH_SIZE, type FanOutOptions, type FanOutSettled, type PlaceholderInfo } from './placeholders.js';
export { defineOrchestration, type OrchestrationDefinition } from './orchestration-definition.js';
export { definitionHash, describeMachine } from './definition-hash.js';
export { createRegistry, compareVersions, type OrchestrationRegistry } from './registry.js';
export { continueAsNew, CONTINUE_AS_NEW_ACTION, type ContinueAsNewParams } from './continue-as-new.js';
export { now, uuid } from './deterministic.js';
