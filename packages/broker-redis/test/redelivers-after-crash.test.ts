import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { defineTask, MemoryBackend, Server, silentLogger } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, expect, it } from 'vitest';
import { DEFAULT_LEASE_MS, RedisBroker } from '../src/index.js';

// Three worker processes share a queue; one is killed with SIGKILL while it runs tasks. Nothing is
// lost: the killed worker's leases expire (default lease, 10 s) and its tasks run again elsewhere.

const fixture = fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url));
const raw = rawClient(REDIS_URL);
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  raw.disconnect();
});

interface Child {
  readonly process: ChildProcess;
  /** UUID → start time (ms) of every task this process started. */
  readonly started: Map<string, number>;
  readonly ready: Promise<void>;
}

function startWorker(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const started = new Map<string, number>();
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready') resolve();
      const [word, uuid, at] = line.split(' ');
      if (word === 'started' && uuid) started.set(uuid, Number(at));
    });
  });
  return { process: child, started, ready };
}

const crashSleep = defineTask('crash_sleep', (_ms: number): string => '');

it(
  'a worker killed with SIGKILL mid-task loses nothing: every task completes, its tasks run again elsewhere',
  async () => {
    const ns = uniqueNamespace();
    const prefix = prefixOf(ns);
    const runsKey = `${prefix}runs`;
    const doneKey = `${prefix}done`;
    const env = { REDIS_URL, PREFIX: prefix, RUNS_KEY: runsKey, DONE_KEY: doneKey };
    const workers = [startWorker(env), startWorker(env), startWorker(env)];
    await Promise.all(workers.map((w) => w.ready));

    const broker = new RedisBroker({ url: REDIS_URL, prefix, logger: silentLogger });
    const producer = new Server({ broker, backend: new MemoryBackend(), logger: silentLogger });
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, () => producer.send(crashSleep.signature(400))),
      );
      const finished = async () => new Set(await raw.lrange(doneKey, 0, -1));
      const victim = workers[0] as Child;
      await eventually(() => expect(victim.started.size).toBeGreaterThanOrEqual(2), { timeoutMs: 10_000 });
      victim.process.kill('SIGKILL');
      const killedAt = Date.now();
      // What the victim held: started, and not finished at the moment it died.
      const doneAtKill = await finished();
      const held = [...victim.started.keys()].filter((uuid) => !doneAtKill.has(uuid));

      await eventually(
        async () => expect([...(await finished())].sort()).toEqual(results.map((r) => r.taskUUID).sort()),
        { timeoutMs: DEFAULT_LEASE_MS + 20_000, intervalMs: 200 },
      );

      const runs = await raw.lrange(runsKey, 0, -1);
      const counts = new Map<string, number>();
      for (const uuid of runs) counts.set(uuid, (counts.get(uuid) ?? 0) + 1);
      expect(new Set(runs).size).toBe(30);
      // Every task the victim held when it died ran again in another worker.
      const rerunAt: number[] = [];
      for (const uuid of held) {
        const again = workers
          .slice(1)
          .map((w) => w.started.get(uuid))
          .find((t) => t !== undefined);
        expect(again, `task ${uuid} held by the killed worker ran again`).toBeDefined();
        rerunAt.push((again as number) - killedAt);
      }
      const duplicates = [...counts.values()].filter((n) => n > 1).length;
      console.log(
        `crash test: ${held.length} task(s) held by the killed worker; re-run ${rerunAt.map((ms) => `${ms} ms`).join(', ')} after SIGKILL (lease ${DEFAULT_LEASE_MS} ms); ${runs.length} executions for 30 tasks, ${duplicates} task(s) ran more than once`,
      );
    } finally {
      await producer.close();
      for (const w of workers.slice(1)) {
        const exited = new Promise((resolve) => w.process.once('exit', resolve));
        w.process.kill('SIGTERM');
        await exited;
      }
      await deleteKeys(raw, prefix);
    }
  },
  DEFAULT_LEASE_MS + 60_000,
);
