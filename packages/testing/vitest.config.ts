import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // examples/ holds the runnable example of the README and of docs/writing-an-adapter.md.
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
  },
});
