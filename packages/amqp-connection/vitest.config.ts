import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The files share one RabbitMQ and some close connections or kill processes: run them one by one.
    fileParallelism: false,
  },
});
