import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // The files share one fauxqs server and spawn worker processes; one at a time keeps them fair.
    fileParallelism: false,
  },
});
