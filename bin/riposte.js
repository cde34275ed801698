#!/usr/bin/env node
// The `riposte` command. The sources are TypeScript run by Node 24's type stripping; the project
// pins Node 24 (npm package `node`), so `npx riposte` and npm scripts use it.
import '../src/main.ts';
