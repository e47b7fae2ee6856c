import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = join(here, '..');
const packages = join(pkgRoot, '..');

// An application folder outside the workspace holding a copy of the built @machinery/connect, core and
// only the Redis adapters — what a user who installed just those gets. Node then really fails to
// resolve the other adapters, so this checks the message users see, not a simulation of it.
let app: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'machinery-connect-'));
  const scope = join(app, 'node_modules', '@machinery');
  mkdirSync(join(scope, 'connect'), { recursive: true });
  cpSync(join(pkgRoot, 'dist'), join(scope, 'connect', 'dist'), { recursive: true });
  cpSync(join(pkgRoot, 'package.json'), join(scope, 'connect', 'package.json'));
  // Symlinks resolve to the workspace copies, whose own dependencies are installed there.
  for (const name of ['core', 'broker-redis', 'backend-redis']) {
    symlinkSync(join(packages, name), join(scope, name), 'dir');
  }
  // An @machinery/backend-amqp from before AmqpControlPlane existed: it exports the backend only.
  const oldAmqp = join(scope, 'backend-amqp');
  mkdirSync(oldAmqp);
  writeFileSync(
    join(oldAmqp, 'package.json'),
    '{ "name": "@machinery/backend-amqp", "version": "0.0.1", "type": "module", "exports": "./index.js" }\n',
  );
  writeFileSync(
    join(oldAmqp, 'index.js'),
    'export class AmqpBackend { constructor() {} async close() {} }\n',
  );
  writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(app, 'main.js'),
    `import { connectFromEnv } from '@machinery/connect';
try {
  const c = await connectFromEnv({ probe: false });
  console.log('connected', JSON.stringify(c.urls));
  await c.close();
} catch (err) {
  console.log(err.code, err.message);
}
`,
  );
});

afterAll(() => {
  rmSync(app, { recursive: true, force: true });
});

async function runApp(env: Record<string, string>): Promise<string> {
  const { stdout } = await run(process.execPath, ['main.js'], {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return stdout.trim();
}

describe('connect loads only the adapter packages that are installed', () => {
  it('connects with the installed Redis adapters', async () => {
    expect(await runApp({ BROKER_URL: 'redis://127.0.0.1:6379' })).toBe(
      'connected {"broker":"redis://127.0.0.1:6379","backend":"redis://127.0.0.1:6379","lock":"redis://127.0.0.1:6379","control":"redis://127.0.0.1:6379"}',
    );
  });

  it('says which package a control plane URL needs', async () => {
    expect(
      await runApp({ BROKER_URL: 'redis://127.0.0.1:6379', CONTROL_URL: 'memcache://127.0.0.1:11211' }),
    ).toBe(
      'ERR_INVALID_ARGUMENT CONTROL_URL=memcache://127.0.0.1:11211 needs @machinery/backend-memcache: npm install @machinery/backend-memcache',
    );
  });

  it('says which package a backend URL needs and how to install it', async () => {
    expect(
      await runApp({
        BROKER_URL: 'redis://127.0.0.1:6379',
        RESULT_BACKEND_URL: 'memcache://127.0.0.1:11211',
      }),
    ).toBe(
      'ERR_INVALID_ARGUMENT RESULT_BACKEND_URL=memcache://127.0.0.1:11211 needs @machinery/backend-memcache: npm install @machinery/backend-memcache',
    );
  });

  it('goes on without a defaulted control plane the installed backend package lacks, and refuses an explicit one', async () => {
    const AMQP = 'amqp://guest:secret@127.0.0.1:5672';
    expect(await runApp({ BROKER_URL: 'redis://127.0.0.1:6379', RESULT_BACKEND_URL: AMQP })).toBe(
      'connected {"broker":"redis://127.0.0.1:6379","backend":"amqp://guest:***@127.0.0.1:5672","lock":"redis://127.0.0.1:6379"}',
    );
    expect(await runApp({ BROKER_URL: 'redis://127.0.0.1:6379', CONTROL_URL: AMQP })).toBe(
      'ERR_INVALID_ARGUMENT CONTROL_URL=amqp://guest:***@127.0.0.1:5672 needs AmqpControlPlane from @machinery/backend-amqp, which the installed version does not export: npm install @machinery/backend-amqp@latest',
    );
  });

  it('says which package a PostgreSQL broker and backend need', async () => {
    expect(await runApp({ BROKER_URL: 'postgres://app:secret@127.0.0.1:5432/app' })).toBe(
      'ERR_INVALID_ARGUMENT BROKER_URL=postgres://app:***@127.0.0.1:5432/app needs @machinery/broker-postgres: npm install @machinery/broker-postgres',
    );
    expect(
      await runApp({
        BROKER_URL: 'redis://127.0.0.1:6379',
        RESULT_BACKEND_URL: 'postgresql://app:secret@127.0.0.1:5432/app',
      }),
    ).toBe(
      'ERR_INVALID_ARGUMENT RESULT_BACKEND_URL=postgresql://app:***@127.0.0.1:5432/app needs @machinery/backend-postgres: npm install @machinery/backend-postgres',
    );
  });

  it('says which package a broker URL needs, password masked', async () => {
    expect(
      await runApp({
        BROKER_URL: 'amqp://guest:secret@127.0.0.1:5672',
        RESULT_BACKEND_URL: 'redis://127.0.0.1:6379',
      }),
    ).toBe(
      'ERR_INVALID_ARGUMENT BROKER_URL=amqp://guest:***@127.0.0.1:5672 needs @machinery/broker-amqp: npm install @machinery/broker-amqp',
    );
  });
});
