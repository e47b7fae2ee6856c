#!/usr/bin/env node
// Checks the package graph: every workspace dependency is a tsconfig project reference (and the
// reverse), every project a test tsconfig references is a dependency of the package or of the root,
// adapters take @machinery/core as a peer (never a dependency), public packages have the fields and
// files users rely on and name no private workspace package (not even as a devDependency: the
// published manifest would point at a package nobody can install), and core depends on no adapter or
// client library. scripts/check-tarballs.mjs checks the packed tarballs themselves.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const problems = [];
const dirs = ['packages', 'apps']
  .flatMap((d) => readdirSync(join(root, d)).map((n) => join(root, d, n)))
  .concat([join(root, 'bench')])
  // tools/* are private helpers; those without TypeScript (a pinned server binary) have no graph to check.
  .concat(
    readdirSync(join(root, 'tools'))
      .map((n) => join(root, 'tools', n))
      .filter((d) => existsSync(join(d, 'tsconfig.json'))),
  )
  .filter((d) => existsSync(join(d, 'package.json')));

const byName = new Map();
for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  byName.set(pkg.name, { dir, pkg });
}

const CLIENTS = ['ioredis', 'amqplib', '@aws-sdk/client-sqs', 'memjs'];
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];

for (const { dir, pkg } of byName.values()) {
  const where = relative(root, dir);
  const tsconfigPath = join(dir, 'tsconfig.json');
  const refs = existsSync(tsconfigPath)
    ? (JSON.parse(readFileSync(tsconfigPath, 'utf8')).references ?? []).map((r) => resolve(dir, r.path))
    : [];
  const deps = { ...pkg.dependencies, ...pkg.peerDependencies };
  const workspaceDeps = Object.keys(deps).filter((d) => byName.has(d));
  for (const dep of workspaceDeps) {
    if (!refs.includes(byName.get(dep).dir))
      problems.push(`${where}: depends on ${dep} but tsconfig.json has no reference to it`);
  }
  for (const ref of refs) {
    const target = [...byName.values()].find((p) => p.dir === ref);
    if (!target)
      problems.push(`${where}: tsconfig reference ${relative(root, ref)} is not a workspace package`);
    else if (!workspaceDeps.includes(target.pkg.name)) {
      problems.push(
        `${where}: tsconfig references ${target.pkg.name} but package.json does not depend on it`,
      );
    }
  }
  // Test projects reference what their imports need; a private helper (@machinery/test-services)
  // is a devDependency of the root, so that no published manifest names it.
  const testTsconfigPath = join(dir, 'test', 'tsconfig.json');
  if (existsSync(testTsconfigPath)) {
    const testRefs = (JSON.parse(readFileSync(testTsconfigPath, 'utf8')).references ?? []).map((r) =>
      resolve(dir, 'test', r.path),
    );
    for (const ref of testRefs) {
      if (ref === dir) continue;
      const target = [...byName.values()].find((p) => p.dir === ref);
      if (!target) {
        problems.push(
          `${where}: test/tsconfig.json references ${relative(root, ref)}, not a workspace package`,
        );
      } else if (
        !DEP_FIELDS.some((f) => pkg[f]?.[target.pkg.name]) &&
        !rootManifest.devDependencies?.[target.pkg.name]
      ) {
        problems.push(
          `${where}: test/tsconfig.json references ${target.pkg.name}, which neither this package nor the root depends on`,
        );
      }
    }
  }
  if (pkg.private) continue;
  const tsconfig = existsSync(tsconfigPath) ? JSON.parse(readFileSync(tsconfigPath, 'utf8')) : undefined;
  const outDir = tsconfig?.compilerOptions?.outDir;
  const buildInfo = tsconfig?.compilerOptions?.tsBuildInfoFile;
  if (outDir && (!buildInfo || !relative(resolve(dir, outDir), resolve(dir, buildInfo)).startsWith('..'))) {
    problems.push(
      `${where}: tsconfig.json must set "tsBuildInfoFile" outside "${outDir}" (e.g. "tsconfig.tsbuildinfo")`,
    );
  }
  for (const field of DEP_FIELDS) {
    for (const dep of Object.keys(pkg[field] ?? {})) {
      if (byName.get(dep)?.pkg.private) {
        problems.push(
          `${where}: ${field} names the private package ${dep}; make it a devDependency of the root instead`,
        );
      }
    }
  }
  if (!existsSync(join(dir, 'LICENSE')))
    problems.push(`${where}: LICENSE is missing (npm packs it from here)`);
  if (!['dist', 'src'].every((entry) => pkg.files?.includes(entry))) {
    problems.push(`${where}: "files" must list "dist" and "src" (the source maps point into src/)`);
  }
  if (pkg.name === '@machinery/core') {
    for (const d of Object.keys(pkg.dependencies ?? {})) {
      if (d.startsWith('@machinery/') || CLIENTS.includes(d))
        problems.push(`${where}: core must not depend on ${d}`);
    }
  } else {
    if (pkg.dependencies?.['@machinery/core'])
      problems.push(`${where}: @machinery/core belongs in peerDependencies`);
    if (!pkg.peerDependencies?.['@machinery/core'])
      problems.push(`${where}: missing peerDependency @machinery/core`);
  }
  const exp = pkg.exports?.['.'];
  if (!exp || Object.keys(exp)[0] !== 'types' || !exp.default) {
    problems.push(`${where}: exports["."] must list "types" first, then "default"`);
  }
  for (const field of ['license', 'engines', 'repository', 'files', 'sideEffects']) {
    if (pkg[field] === undefined) problems.push(`${where}: package.json lacks "${field}"`);
  }
  if (pkg.type !== 'module') problems.push(`${where}: "type" must be "module"`);
  if (!existsSync(join(dir, 'README.md'))) problems.push(`${where}: README.md is missing`);
}

const changesetConfig = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8'));
const fixed = new Set(changesetConfig.fixed.flat());
for (const { pkg } of byName.values()) {
  if (!pkg.private && !fixed.has(pkg.name))
    problems.push(`${pkg.name} is public but not in the changeset "fixed" group`);
}

if (problems.length > 0) {
  console.error(`check-packages: ${problems.length} problem(s)\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`check-packages: ${byName.size} packages OK`);
