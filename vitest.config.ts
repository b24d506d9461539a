import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-dist.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most files wait on sockets, child processes and timers, not the CPU: two at a time on a
    // 2-core machine (vitest's default there is one) keeps CI well under its time limit.
    maxWorkers: 2,
  },
});
