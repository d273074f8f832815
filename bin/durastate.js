#!/usr/bin/env node
// The `durastate` command. The CLI is TypeScript; tsx's ESM loader is registered here so the same
// shim works from a checkout and from an installed package, without a build step, and so
// `durastate worker --module app.ts` can load the user's TypeScript module too.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../runtime/cli/main.ts', import.meta.url).href);
// exitCode, not process.exit(): pending output is flushed and a leaked handle shows up as a hang in tests.
process.exitCode = await main(process.argv.slice(2));
