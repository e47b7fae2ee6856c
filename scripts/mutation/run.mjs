#!/usr/bin/env node
// Proves the conformance suites by mutation: runs brokerSuite + scenarioSuite (suites.test.mjs) against
// core's memory broker unbroken — which must pass — and once per mutant in mutants.mjs — each of which
// must fail. Prints which test caught each mutant; exits 1 if the unbroken broker fails or a mutant
// survives. Usage: node scripts/mutation/run.mjs [mutant…] (default: every mutant).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalog } from './catalog.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const known = Object.keys(catalog);
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!known.includes(name)) {
    console.error(`Unknown mutant "${name}"; known: ${known.join(', ')}.`);
    process.exit(2);
  }
}
const out = mkdtempSync(join(tmpdir(), 'machinery-mutation-'));

/** Runs the suites with MUTANT=name ('' = unbroken); resolves { passed, failed: [test names] }. */
function run(name) {
  const report = join(out, `${name || 'unbroken'}.json`);
  const args = [
    vitest,
    'run',
    '--config',
    join(here, 'vitest.config.mjs'),
    '--reporter=json',
    `--outputFile=${report}`,
  ];
  // A mutant needs one failing test to be caught; stopping there keeps the run short.
  if (name) args.push('--bail=1');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, MUTANT: name },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => {
      let failed = [];
      try {
        const json = JSON.parse(readFileSync(report, 'utf8'));
        failed = json.testResults.flatMap((file) =>
          file.assertionResults.filter((t) => t.status === 'failed').map((t) => t.fullName),
        );
        if (failed.length === 0 && code !== 0)
          failed = json.testResults.map((f) => f.message).filter(Boolean);
      } catch {
        failed =
          code === 0 ? [] : [`vitest exited ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`];
      }
      resolve({ passed: code === 0, failed });
    });
  });
}

const started = Date.now();
const names = wanted.length > 0 ? wanted : known;
let ok = true;
// Two at a time: the machine is shared, and the runs are short.
const queue = ['', ...names];
const results = new Map();
await Promise.all(
  [0, 1].map(async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift())
      results.set(name, await run(name));
  }),
);
const unbroken = results.get('');
if (unbroken?.passed) console.log('unbroken memory broker: suites pass');
else {
  ok = false;
  console.log(`unbroken memory broker: suites FAIL (they must pass):\n  ${unbroken?.failed.join('\n  ')}`);
}
for (const name of names) {
  const { passed, failed } = results.get(name);
  if (passed) {
    ok = false;
    console.log(`${name} (${catalog[name]}): SURVIVED — no test failed`);
  } else console.log(`${name} (${catalog[name]}):\n  caught by "${failed[0]}"`);
}
rmSync(out, { recursive: true, force: true });
console.log(
  `${ok ? 'every mutant caught' : 'MUTATION CHECK FAILED'} (${Math.round((Date.now() - started) / 1000)} s)`,
);
process.exit(ok ? 0 : 1);
