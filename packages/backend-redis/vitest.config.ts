import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // One file starts a private redis-server; one file at a time keeps the machine quiet for it.
    fileParallelism: false,
  },
});
