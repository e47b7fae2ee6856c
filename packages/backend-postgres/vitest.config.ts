import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // The restart scenario drops every connection of the test role: one file at a time.
    fileParallelism: false,
  },
});
