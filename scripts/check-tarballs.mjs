#!/usr/bin/env node
// Checks the public packages as users receive them: packs each one (`pnpm pack`, so `workspace:`
// ranges are rewritten as on publish), inspects every tarball (no build info, a LICENSE, source and
// declaration maps whose sources are in the tarball, README links that stay inside the package, no
// private workspace package among the dependencies), runs publint and `attw --profile esm-only` on
// it, then installs all tarballs with npm in an empty folder outside the workspace and, there,
// type-checks a strict TypeScript file importing every package (no skipLibCheck), runs an ESM script
// that sends one task through the memory adapters, and `require()`s core from CommonJS.
//
// Needs the packages built (`pnpm build`; `pnpm check:tarballs` builds first). The npm install
// reads the registry for third-party dependencies (ioredis, amqplib, …) through npm's cache.
//
// Usage: node scripts/check-tarballs.mjs [--keep]   (--keep leaves the temp folder for inspection)
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const problems = [];
const timings = [];
/** The temp folder (tarballs and the user project), once made. */
let work;

async function timed(label, fn) {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings.push(`${label} ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

/** Runs `cmd` and resolves with its output; rejects with stdout and stderr in the message. */
async function sh(cmd, args, options = {}) {
  try {
    return await run(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...options });
  } catch (err) {
    const out = [err.stdout, err.stderr].filter(Boolean).join('\n').trim();
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${err.code}):\n${out}`);
  }
}

/** Runs `fn` over `items`, `limit` at a time (the machine has few cores and other users). */
async function eachLimit(items, limit, fn) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(limit, queue.length) }, async () => {
      while (queue.length > 0) await fn(queue.shift());
    }),
  );
}

/** Every file of a gzipped tar, as `Map<path inside the package, Buffer>` (ustar + pax names). */
function untar(tgz) {
  const tar = gunzipSync(tgz);
  const files = new Map();
  let paxPath;
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const text = (from, len) => header.toString('utf8', from, from + len).replace(/\0.*$/s, '');
    const size = Number.parseInt(text(124, 12).trim() || '0', 8);
    const type = text(156, 1) || '0';
    const prefix = text(345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100));
    const body = tar.subarray(at + 512, at + 512 + size);
    paxPath = undefined;
    if (type === 'x') paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
    else if (type === '0') files.set(name.replace(/^package\//, ''), body);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const isPrivateWorkspacePackage = new Map();
for (const group of ['packages', 'apps', 'tools']) {
  for (const name of readdirSync(join(root, group))) {
    const file = join(root, group, name, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    isPrivateWorkspacePackage.set(pkg.name, pkg.private === true);
  }
}

const publicPackages = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);

// Build output a deleted source left behind would ship to users: every file in dist/ must come from
// a file in src/ (the build starts from an empty dist/, but a dist/ restored from an old cache may not).
for (const { dir } of publicPackages) {
  const where = relative(root, dir);
  if (!existsSync(join(dir, 'dist', 'index.js'))) {
    problems.push(`${where}: not built (dist/index.js is missing): run \`pnpm build\` first`);
    continue;
  }
  const walk = (d) =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : [relative(join(dir, 'dist'), join(d, e.name))],
    );
  for (const file of walk(join(dir, 'dist'))) {
    // Build info is no build output of a source; the tarball check below names it if it ships.
    if (file.endsWith('.tsbuildinfo')) continue;
    const source = file.replace(/(\.d)?\.(js|ts)(\.map)?$/, '.ts');
    if (!existsSync(join(dir, 'src', source))) {
      problems.push(
        `${where}: dist/${file} has no source in src/ (a stale build): delete ${where}/dist and build again`,
      );
    }
  }
}
if (problems.length > 0) finish();

work = mkdtempSync(join(tmpdir(), 'machinery-tarballs-'));
const tarballDir = join(work, 'tarballs');
mkdirSync(tarballDir);

// 1. Pack, as `pnpm publish` would.
const packed = await timed('pack', async () => {
  const filters = publicPackages.flatMap(({ dir }) => ['--filter', `./${relative(root, dir)}`]);
  const { stdout } = await sh(
    'pnpm',
    ['-r', ...filters, 'pack', '--pack-destination', tarballDir, '--json', '--workspace-concurrency', '2'],
    { cwd: root },
  );
  const list = JSON.parse(stdout);
  return (Array.isArray(list) ? list : [list])
    .map((p) => ({ name: p.name, tarball: p.filename }))
    .sort((a, b) => a.name.localeCompare(b.name));
});

// 2. What is inside each tarball.
const README_LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const summary = [];
for (const { name, tarball } of packed) {
  const files = untar(readFileSync(tarball));
  const bad = (what) => problems.push(`${name}: ${what}`);
  for (const path of files.keys()) {
    if (path.endsWith('.tsbuildinfo')) bad(`ships ${path} (build info belongs outside dist/)`);
  }
  if (!files.has('LICENSE')) bad('ships no LICENSE file');
  if (!files.has('README.md')) bad('ships no README.md');
  const manifest = JSON.parse(files.get('package.json').toString('utf8'));
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) bad(`${field}.${dep} is still "${range}"`);
      if (isPrivateWorkspacePackage.get(dep)) bad(`${field} lists the private workspace package ${dep}`);
    }
  }
  for (const [path, body] of files) {
    if (!path.endsWith('.map')) continue;
    const map = JSON.parse(body.toString('utf8'));
    for (const source of map.sources ?? []) {
      const target = posix.normalize(posix.join(posix.dirname(path), map.sourceRoot ?? '', source));
      if (!files.has(target) && !map.sourcesContent) bad(`${path} points to ${source}, not in the tarball`);
    }
  }
  const readme = files.get('README.md')?.toString('utf8') ?? '';
  for (const [, target] of readme.replace(/```[\s\S]*?```/g, '').matchAll(README_LINK)) {
    if (/^([a-z][a-z0-9+.-]*:|#)/i.test(target)) continue;
    const path = posix.normalize(decodeURI(target.replace(/#.*$/, '')));
    if (!files.has(path)) bad(`README.md links to ${target}, which is not in the package`);
  }
  if (!/ESM only/i.test(readme)) bad('README.md does not say the package is ESM only');
  summary.push({ name, tarball, files: files.size, kB: Math.round(readFileSync(tarball).length / 1024) });
}

// 3. A user's project: npm, outside the workspace, nothing but the tarballs and the registry.
const project = join(work, 'project');
mkdirSync(project);
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const catalog = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
const pinned = (dep) => {
  const version = new RegExp(`^\\s+"?${dep.replace('/', '\\/')}"?:\\s*(\\S+)`, 'm').exec(catalog)?.[1];
  if (!version) throw new Error(`pnpm-workspace.yaml has no catalog entry for ${dep}`);
  return version;
};
const importable = summary.filter(({ name }) => {
  const pkg = publicPackages.find((p) => p.pkg.name === name)?.pkg;
  return pkg?.exports?.['.'] !== undefined;
});
writeFileSync(
  join(project, 'package.json'),
  `${JSON.stringify(
    {
      name: 'machinery-user',
      private: true,
      type: 'module',
      engines: rootManifest.engines,
      dependencies: Object.fromEntries(summary.map(({ name, tarball }) => [name, `file:${tarball}`])),
      devDependencies: {
        typescript: pinned('typescript'),
        '@types/node': pinned('@types/node'),
        // @machinery/testing's peer: named so npm installs the version the workspace tests with.
        vitest: pinned('vitest'),
      },
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  join(project, 'tsconfig.json'),
  `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
      },
      files: ['imports.ts', 'typed.ts'],
    },
    null,
    2,
  )}\n`,
);
// typed.ts, run.mjs and require.cjs are fixed; imports.ts imports every package, so a package whose
// types do not resolve or do not compile fails here.
for (const file of ['typed.ts', 'run.mjs', 'require.cjs']) {
  copyFileSync(join(root, 'scripts', 'user-project', file), join(project, file));
}
const ident = (name) => name.replace(/^@machinery\//, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
writeFileSync(
  join(project, 'imports.ts'),
  `${importable.map(({ name }) => `import * as ${ident(name)} from '${name}';`).join('\n')}

/** Every package, used so that no import is elided unchecked. */
export const packages = [${importable.map(({ name }) => ident(name)).join(', ')}];
`,
);

// npm fetches while publint and attw use the CPU; the project is checked once both are done.
const installed = timed('npm install (in parallel)', () =>
  // npm as the user has it configured (registry, CA); no workspace setting reaches the temp folder.
  sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: project }),
).then(
  () => true,
  (err) => {
    problems.push(`npm install of the tarballs in ${project} failed: ${err.message}`);
    return false;
  },
);

// 5. publint and Are the Types Wrong, on the tarballs themselves.
const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
await timed('publint + attw', () =>
  eachLimit(packed, 2, async ({ name, tarball }) => {
    const data = readFileSync(tarball);
    const lint = await publint({
      pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    const pkg = JSON.parse(untar(data).get('package.json').toString('utf8'));
    for (const message of lint.messages) {
      problems.push(`${name}: publint ${message.type}: ${formatMessage(message, pkg, { color: false })}`);
    }
    try {
      await sh(process.execPath, [
        attw,
        tarball,
        '--profile',
        'esm-only',
        '--no-definitely-typed',
        '--format',
        'ascii',
        '--no-color',
        '--no-emoji',
      ]);
    } catch (err) {
      problems.push(`${name}: attw --profile esm-only found problems:\n${err.message}`);
    }
  }),
);

if (await installed) {
  try {
    await timed('tsc', () =>
      sh(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project]),
    );
  } catch (err) {
    problems.push(`a strict TypeScript project importing every package does not type-check:\n${err.message}`);
  }
  try {
    const lines = await timed('run', async () => [
      (await sh(process.execPath, ['run.mjs'], { cwd: project })).stdout.trim(),
      (await sh(process.execPath, ['require.cjs'], { cwd: project })).stdout.trim(),
    ]);
    for (const line of lines) console.log(`check-tarballs: ${line}`);
  } catch (err) {
    problems.push(`the installed packages do not run:\n${err.message}`);
  }
}

finish();

function finish() {
  if (work && !keep && problems.length === 0) rmSync(work, { recursive: true, force: true });
  if (problems.length > 0) {
    console.error(`check-tarballs: ${problems.length} problem(s)\n- ${problems.join('\n- ')}`);
    if (work) console.error(`(tarballs and user project kept in ${work})`);
    process.exit(1);
  }
  for (const s of summary)
    console.log(`  ${s.name.padEnd(30)} ${String(s.files).padStart(4)} files ${String(s.kB).padStart(5)} kB`);
  console.log(
    `check-tarballs: ${summary.length} packages OK — publint, attw (esm-only), npm install, strict tsc without skipLibCheck, ESM run, require() (${timings.join(', ')})`,
  );
}
