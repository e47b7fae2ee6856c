import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg) => fileURLToPath(new URL(`../../packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  // Sources, not builds: the mutants and the suites see one copy of core, and no build step is needed.
  resolve: { alias: { '@machinery/core': src('core'), '@machinery/testing': src('testing') } },
  test: { root: fileURLToPath(new URL('.', import.meta.url)), include: ['suites.test.mjs'] },
});
