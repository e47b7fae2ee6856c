import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RedisBackend } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { group, Server, signature } from '@machinery/core';
import { freePort, killProcess, rawClient } from '@machinery/test-services';
import { eventually, observeFor } from '@machinery/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { machinery, REDIS, uniqueQueue } from './machinery.js';

// Worker processes built from connectFromEnv() on the CLI tests' Redis database: the control plane is
// on the same server by default, so the binary and the workers share it as a fleet would.
const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, 'fixtures', 'control-worker.mjs');
const bin = join(here, '..', 'dist', 'bin.js');
const env = { BROKER_URL: REDIS };
const redis = rawClient(REDIS);
const children: ChildProcess[] = [];
const queues: string[] = [];

afterAll(async () => {
  await Promise.all(children.map((c) => killProcess(c)));
  for (const q of queues) await redis.del(q, `${q}:leases`, `${q}:inflight`, `${q}:consumers`);
  redis.disconnect();
});

function queue(label: string): string {
  const q = uniqueQueue(label);
  queues.push(q);
  return q;
}

interface WorkerProcess {
  readonly process: ChildProcess;
  /** UUIDs of the tasks it started. */
  readonly started: Set<string>;
}

/** Starts a worker process on `q` and resolves once it consumes. */
async function startWorker(q: string, heartbeatMs = 500): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [fixture], {
    env: { PATH: process.env.PATH ?? '', ...env, QUEUE: q, HEARTBEAT_MS: String(heartbeatMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const started = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the worker exited early with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready') resolve();
      const [word, uuid] = line.split(' ');
      if (word === 'started' && uuid) started.add(uuid);
    });
  });
  return { process: child, started };
}

async function json(args: string[]): Promise<{ code: number | null; data: Record<string, unknown> }> {
  const r = await machinery([...args, '--json'], env);
  return { code: r.code, data: r.stdout === '' ? {} : JSON.parse(r.stdout) };
}

async function taskState(uuid: string): Promise<Record<string, unknown>> {
  return (await json(['task', uuid])).data;
}

async function workersOf(q: string): Promise<Record<string, unknown>[]> {
  return (await json(['workers', '--queue', q])).data.workers as Record<string, unknown>[];
}

async function send(args: string[]): Promise<string> {
  const r = await machinery(['send', ...args], env);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

const LONG = { timeoutMs: 20_000, intervalMs: 200 };

describe('machinery revoke', () => {
  it('revokes a running task: its worker aborts it and it ends FAILURE "revoked", which task shows', async () => {
    const q = queue('revoke');
    const worker = await startWorker(q);
    const uuid = await send(['cli_sleep', '600000', '--queue', q]);
    await eventually(() => expect(worker.started.has(uuid)).toBe(true), LONG);
    await eventually(async () => expect((await taskState(uuid)).progress).not.toBeNull(), LONG);
    expect((await taskState(uuid)).progress).toMatchObject({ data: { step: 'sleeping', ms: 600000 } });

    const r = await json(['revoke', uuid, '--reason', 'stopped from the CLI']);
    expect(r.code).toBe(0);
    expect(r.data).toMatchObject({
      reason: 'stopped from the CLI',
      ttlMs: 3_600_000,
      revoked: [{ uuid, kind: 'task', name: 'cli_sleep', before: 'STARTED', memberOf: null }],
      schedules: [],
    });

    await eventually(async () => expect((await taskState(uuid)).state).toBe('FAILURE'), LONG);
    const task = await taskState(uuid);
    expect(task.error).toContain('was revoked: stopped from the CLI');
    expect(task.revoked).toMatchObject({ reason: 'stopped from the CLI' });
    const human = await machinery(['task', uuid], env);
    expect(human.stdout).toMatch(/^revoked: +yes, .*: stopped from the CLI$/m);
    expect(human.stdout).toMatch(/^progress: +\{"step":"sleeping","ms":600000\}/m);
  });

  it('revokes a waiting task at once, and a group UUID revokes every member', async () => {
    const q = queue('revokegroup');
    const waiting = await send(['cli_add', '1', '2', '--queue', q]);
    const human = await machinery(['revoke', waiting], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      new RegExp(`^${waiting}\\s+cli_add\\s+PENDING\\s+FAILURE \\(revoked before it ran\\)$`, 'm'),
    );
    expect(human.stdout).toContain('revoked 1 (reason "revoked"; every worker refuses it for 1 h)');
    expect(await taskState(waiting)).toMatchObject({ state: 'FAILURE', revoked: { reason: 'revoked' } });

    const server = new Server({
      broker: new RedisBroker({ url: REDIS }),
      backend: new RedisBackend({ url: REDIS }),
    });
    try {
      const g = group(
        signature('cli_add', [1, 1], { routingKey: q }),
        signature('cli_add', [2, 2], { routingKey: q }),
      );
      await server.sendGroup(g);
      const r = await json(['revoke', g.groupUUID, '--ttl', '10m']);
      expect(r.code).toBe(0);
      expect(r.data.ttlMs).toBe(600_000);
      expect(r.data.revoked).toMatchObject([
        { uuid: g.groupUUID, kind: 'group', effect: '2 members revoked' },
        ...g.tasks.map((t) => ({ uuid: t.uuid, kind: 'task', before: 'PENDING', memberOf: g.groupUUID })),
      ]);
      const shown = await json(['task', g.groupUUID]);
      expect(shown.data).toMatchObject({
        counts: { FAILURE: 2 },
        members: g.tasks.map((t) => ({ uuid: t.uuid, state: 'FAILURE', revoked: true })),
      });
    } finally {
      await server.close();
    }
  });

  it('refuses an unknown UUID with exit 3 and revokes nothing, unless --force', async () => {
    const unknown = `task_${crypto.randomUUID()}`;
    const r = await machinery(['revoke', unknown], env);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(
      `machinery: No task or group ${unknown} in the result backend ${REDIS}: nothing was revoked. Check the UUID, or pass --force to revoke it anyway (a result that expired, a producer without this backend).`,
    );
    expect(await redis.exists(`machinery_control:revoked:${unknown}`)).toBe(0);
    const forced = await json(['revoke', unknown, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.data.revoked).toMatchObject([{ uuid: unknown, before: null }]);
  });

  it('revokes a periodic schedule by name', async () => {
    const name = `cli_schedule_${crypto.randomUUID().slice(0, 8)}`;
    const r = await machinery(['revoke', '--schedule', name], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`schedule ${name}: every process removes it before its next tick`);
    expect(await redis.exists(`machinery_control:revoked:schedule:${name}`)).toBe(1);
  });
});

describe('machinery pause / resume / workers / status', () => {
  it('pause stops the worker taking tasks and status and workers show it; resume runs them', async () => {
    const q = queue('pause');
    const worker = await startWorker(q);
    await eventually(
      async () => expect(await workersOf(q)).toMatchObject([{ queue: q, paused: false }]),
      LONG,
    );

    const paused = await machinery(['pause', q], env);
    expect(paused.code).toBe(0);
    expect(paused.stdout.trim()).toBe(
      `paused ${q}: 1 live worker stop fetching (machinery resume ${q} undoes it)`,
    );
    await eventually(async () => expect(await workersOf(q)).toMatchObject([{ paused: true }]), LONG);
    const status = await json(['status', '--queue', q]);
    expect(status.data.queues).toMatchObject([{ queue: q, paused: true, workers: 1 }]);
    const table = await machinery(['workers', '--queue', q], env);
    expect(table.stdout).toMatch(
      new RegExp(
        `^\\S+:${worker.process.pid}:\\S+\\s+\\S+\\s+${worker.process.pid}\\s+${q}\\s+2\\s+0\\s+0/0\\s+yes\\s+\\d`,
        'm',
      ),
    );

    const uuid = await send(['cli_add', '2', '3', '--queue', q]);
    // Nothing may run while paused: watch for a while that it is still waiting.
    await observeFor(1_500);
    expect((await taskState(uuid)).state).toBe('PENDING');
    expect(worker.started.size).toBe(0);
    expect((await json(['status', '--queue', q])).data.queues).toMatchObject([{ pending: { count: 1 } }]);
    expect((await machinery(['pause', q], env)).stdout.trim()).toBe(
      `${q} was already paused (1 live worker)`,
    );

    const resumed = await machinery(['resume', q, '--json'], env);
    expect(JSON.parse(resumed.stdout)).toEqual({
      queues: [{ queue: q, wasPaused: true, paused: false, workers: 1 }],
    });
    await eventually(async () => expect(await taskState(uuid)).toMatchObject({ state: 'SUCCESS' }), LONG);
    await eventually(
      async () => expect(await workersOf(q)).toMatchObject([{ paused: false, processed: 1 }]),
      LONG,
    );
  });

  it('a worker killed with SIGKILL leaves machinery workers after three missed heartbeats', async () => {
    const q = queue('kill');
    const worker = await startWorker(q, 300);
    await eventually(
      async () => expect(await workersOf(q)).toMatchObject([{ pid: worker.process.pid }]),
      LONG,
    );
    await killProcess(worker.process);
    await eventually(async () => expect(await workersOf(q)).toEqual([]), LONG);
    expect((await machinery(['workers', '--queue', q], env)).stdout.trim()).toBe(`no live workers on ${q}`);
  });
});

describe('machinery events', () => {
  /** Spawns the binary and resolves once it says on stderr that it listens. */
  async function follow(
    args: string[],
  ): Promise<{ child: ChildProcess; lines: string[]; exited: Promise<number | null> }> {
    const child = spawn(process.execPath, [bin, 'events', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const lines: string[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`events exited early with ${code}`)));
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
        if (/task events on/.test(l)) resolve();
      });
    });
    return { child, lines, exited };
  }

  it('--follow --json prints the events of a task machinery send sent (sent included) as NDJSON, and exits 0 on Ctrl-C', async () => {
    const q = queue('events');
    await startWorker(q);
    const { child, lines, exited } = await follow(['--follow', '--queue', q, '--json']);
    const uuid = await send(['cli_add', '2', '3', '--queue', q]);
    await eventually(() => expect(lines.some((l) => l.includes('"succeeded"'))).toBe(true), LONG);
    const events = lines.map((l) => JSON.parse(l));
    // The stream keeps order per publisher only: `sent` comes from this process, the rest from the
    // worker, and on a busy machine the worker's `received` can be published first.
    expect(events.map((e) => e.type).sort()).toEqual(['received', 'sent', 'started', 'succeeded']);
    expect(events.map((e) => e.type).filter((t) => t !== 'sent')).toEqual([
      'received',
      'started',
      'succeeded',
    ]);
    for (const e of events) expect(e).toMatchObject({ taskUUID: uuid, taskName: 'cli_add', queue: q });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('--count and --type end it after the matching event, one line per event', async () => {
    const q = queue('eventscount');
    await startWorker(q);
    const { lines, exited } = await follow([
      '--for',
      '60s',
      '--queue',
      q,
      '--type',
      'succeeded',
      '--count',
      '1',
    ]);
    const uuid = await send(['cli_add', '4', '5', '--queue', q]);
    expect(await exited).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^\\S+Z  succeeded +cli_add  ${uuid}  queue=${q}  worker=\\S+  [\\d.]+ ms$`),
    );
  });

  it('without --follow it listens for --for and exits 0', async () => {
    const r = await machinery(['events', '--for', '300ms', '--queue', queue('quiet')], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('machinery: no events');
  });
});

describe('the control plane unreachable or absent: a clear message, a non-zero exit, no hang', () => {
  it.each([['workers'], ['pause', 'q'], ['revoke', 'task_x'], ['events', '--follow']])(
    'machinery %s with the control plane on a closed port exits 1 naming it and why',
    async (...args) => {
      const port = await freePort();
      const r = await machinery(
        [...args, '--control', `redis://127.0.0.1:${port}`, '--connect-timeout', '1000'],
        env,
      );
      expect(r.killed).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        new RegExp(`^machinery: control URL redis://127\\.0\\.0\\.1:${port} did not answer within 1 s`),
      );
      // The reason, not only the symptom.
      expect(r.stderr).toContain('ECONNREFUSED');
    },
  );

  it('a command that needs the control plane says so with --control none (exit 2)', async () => {
    const r = await machinery(['workers', '--control', 'none'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^machinery: workers needs a control plane, and there is none: --control or CONTROL_URL is none/,
    );
  });
});
