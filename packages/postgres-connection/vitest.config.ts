import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // One file cuts every connection of the test role: run the files one at a time.
    fileParallelism: false,
  },
});
