import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // The crash and restart tests run worker processes and private redis-servers; one file at a
    // time keeps their timing (leases of 1 s) fair.
    fileParallelism: false,
  },
});
