import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expectNoSecret, killProcess, SECRET, SecuredRedis } from '@machinery/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS } from './machinery.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bin.js');
const children: ChildProcess[] = [];
let secured: SecuredRedis;

beforeAll(async () => {
  secured = await SecuredRedis.start({ password: SECRET });
});
afterAll(async () => {
  await Promise.all(children.map((c) => killProcess(c)));
  await secured?.stop();
});

/** Starts `machinery dashboard …` and resolves with the URL it printed. */
async function start(
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, 'dashboard', '--port', '0', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`machinery dashboard exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = /^dashboard (http:\/\/\S+)$/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
  });
  return { child, url };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('machinery dashboard', () => {
  it('serves the dashboard of the configured broker until Ctrl-C, then exits 0', async () => {
    const { child, url } = await start(['--actions'], { BROKER_URL: REDIS, QUEUE: 'cli_dashboard_queue' });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const overview = await fetch(`${url}api/overview`);
    expect(overview.status).toBe(200);
    const data = (await overview.json()) as { queues: { queue: string }[]; can: { control: boolean } };
    expect(data.queues.map((q) => q.queue)).toContain('cli_dashboard_queue');
    expect(data.can.control).toBe(true);
    expect(await (await fetch(url)).text()).toContain('data-action="pause"');
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  });

  it('shows the broker URL with its password masked, on every page', async () => {
    const { child, url } = await start([], { BROKER_URL: secured.url(SECRET) });
    const bodies: string[] = [];
    for (const path of ['', 'api/overview', 'workers', 'dead-letters', 'groups', 'api/tasks/task_none']) {
      bodies.push(await (await fetch(`${url}${path}`)).text());
    }
    expectNoSecret(bodies.join('\n'));
    expect(bodies[0]).toContain(':***@127.0.0.1');
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  });

  it('with a token from MACHINERY_DASHBOARD_TOKEN, listens beyond loopback and asks for it', async () => {
    const token = 'cli-dashboard-token-1';
    const { child, url } = await start(['--host', '0.0.0.0'], {
      BROKER_URL: REDIS,
      MACHINERY_DASHBOARD_TOKEN: token,
    });
    const port = new URL(url).port;
    expect((await fetch(`http://127.0.0.1:${port}/api/overview`)).status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${port}/api/overview`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  });
});
