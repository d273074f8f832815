/** The whole validation suite against the in-memory reference provider. */
import { runProviderValidation } from '../index.js';
import { memoryFactory } from '../factories/memory.js';

const report = await runProviderValidation(memoryFactory(), { name: 'memory' });
if (report.failed > 0) process.exitCode = 1;
