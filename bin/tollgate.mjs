#!/usr/bin/env node
// The operator CLI and `tollgate serve`, from the bundles in dist/ (`npm run build`; a packed package ships them).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('tollgate: dist/ is missing; in a clone of the repository, run `npm run build` first.');
  process.exit(1);
}
process.setSourceMapsEnabled(true);
await import(cli.href);
