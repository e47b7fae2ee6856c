import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMQP, REDIS } from './machinery.js';

const execFileP = promisify(execFile);
const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The layout `npm install -g @machinery/cli @machinery/broker-redis @machinery/backend-redis` makes:
// each package its own folder under <prefix>/lib/node_modules, the CLI's dependencies (connect,
// dashboard, and core as an auto-installed peer) inside its own node_modules. Node finds the sibling adapters by
// walking up from connect's folder, and nothing else: the AMQP adapters really are missing here.
let root: string;
let bin: string;
// The same layout without @machinery/dashboard: a copy of the CLI made without its dependencies.
let withoutDashboard: string;

function copyPackage(name: string, to: string): void {
  mkdirSync(to, { recursive: true });
  cpSync(join(packages, name, 'dist'), join(to, 'dist'), { recursive: true });
  cpSync(join(packages, name, 'package.json'), join(to, 'package.json'));
}

/** Lays out a global install under `<root>/<name>` and returns the path of its `machinery` bin. */
function globalInstall(name: string, withDashboard: boolean): string {
  const global = join(root, name, 'lib', 'node_modules', '@machinery');
  const cli = join(global, 'cli');
  copyPackage('cli', cli);
  copyPackage('connect', join(cli, 'node_modules', '@machinery', 'connect'));
  if (withDashboard) copyPackage('dashboard', join(cli, 'node_modules', '@machinery', 'dashboard'));
  // Symlinks resolve to the workspace copies, whose own dependencies are installed there.
  symlinkSync(join(packages, 'core'), join(cli, 'node_modules', '@machinery', 'core'), 'dir');
  for (const pkg of ['broker-redis', 'backend-redis'])
    symlinkSync(join(packages, pkg), join(global, pkg), 'dir');
  return join(cli, 'dist', 'bin.js');
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'machinery-cli-global-'));
  bin = globalInstall('complete', true);
  withoutDashboard = globalInstall('no-dashboard', false);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

async function runBin(
  env: Record<string, string>,
  args: string[] = ['status'],
  path = bin,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [path, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('a global install finds the adapters installed beside the CLI', () => {
  it('uses the globally installed Redis adapters', async () => {
    const r = await runBin({ BROKER_URL: REDIS });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`broker:  ${REDIS}`);
  });

  it('names the package to install for a URL whose adapter is missing (exit 2)', async () => {
    const r = await runBin({ BROKER_URL: AMQP, RESULT_BACKEND_URL: REDIS });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^machinery: BROKER_URL=amqp:\/\/guest:\*\*\*@.* needs @machinery\/broker-amqp: npm install @machinery\/broker-amqp\n$/,
    );
  });
});

describe('a CLI without @machinery/dashboard beside it', () => {
  it('machinery dashboard names the package to install (exit 2); the other commands still work', async () => {
    const r = await runBin({ BROKER_URL: REDIS }, ['dashboard', '--port', '0'], withoutDashboard);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'machinery: machinery dashboard needs @machinery/dashboard, which is missing beside the CLI: npm install @machinery/dashboard.\n',
    );
    const status = await runBin({ BROKER_URL: REDIS }, ['status'], withoutDashboard);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
  });
});
