#!/usr/bin/env -S node --max-semi-space-size=8
// The `riposte` command. The sources are TypeScript run by Node 24's type stripping; the project
// pins Node 24 (npm package `node`), so `npx riposte` and npm scripts use it.
//
// --max-semi-space-size=8 (here and in the npm scripts) caps V8's young generation at 8 MB
// semi-spaces instead of 16: a burst of concurrent requests no longer leaves ~50 MB of young
// generation committed, so 1,000 idle streams take 189 MB instead of 217 MB and peak memory under
// load falls by ~100 MB, for ~10% more CPU per non-stored request (docs/benchmarks.md). Pass
// another value after it on the node command line to trade differently.
//
// Node's compile cache (in the OS temp folder, or NODE_COMPILE_CACHE) keeps each module's
// type-stripped source and V8 code cache, keyed by its content: every start after the first skips
// both, and never loads the TypeScript stripper (a WebAssembly module) at all, which saves about
// 30 MB of memory and a third of the start-up time. Enabled before anything else is imported.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('../src/main.ts');
