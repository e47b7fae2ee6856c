import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
const example = read('../examples/conformance.test.ts');
const controlExample = read('../examples/control.test.ts');

// The example runs as a test of its own (vitest includes examples/); these keep the copies shown to
// readers identical to the file that runs.
describe('the runnable example is the one the documentation shows', () => {
  for (const [doc, path] of [
    ['the testing README', '../README.md'],
    ['the adapter guide', '../../../docs/writing-an-adapter.md'],
  ] as const) {
    it(`in ${doc}`, () => {
      expect(read(path)).toContain(`\`\`\`ts\n${example}\`\`\``);
    });
    it(`for a broker's control test, in ${doc}`, () => {
      expect(read(path)).toContain(`\`\`\`ts\n${controlExample}\`\`\``);
    });
  }
});
