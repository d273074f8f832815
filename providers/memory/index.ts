export { MemoryProvider } from './memory-provider.js';
