/**
 * Every example's definitions in one module: what the demo registers, and a worker module for
 * `durastate worker --module examples/all.ts`.
 */
// Users write `from 'durastate'`.
import type { ActivityDefinition, OrchestrationDefinition } from '../runtime/index.js';
import * as approval from './approval.js';
import * as fanOut from './fan-out.js';
import * as monitor from './monitor.js';
import * as orderSaga from './order-saga.js';
import * as parentChild from './parent-child.js';

const examples = [orderSaga, approval, fanOut, monitor, parentChild];

export const orchestrations = examples.flatMap((e): OrchestrationDefinition[] => e.orchestrations);
export const activities = examples.flatMap((e): ActivityDefinition[] => e.activities);
