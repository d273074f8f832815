export { MemoryProvider } from './memory-provider.js';
export { assertJson } from './json-safety.js';
