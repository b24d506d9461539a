#!/usr/bin/env node
// The operator CLI is TypeScript; tsx compiles it on load, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
