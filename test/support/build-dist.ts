import { execFileSync } from 'node:child_process';

/** Vitest globalSetup: the tests that spawn the server run dist/, so build it once per run, from the current sources. */
export default function buildDist(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
