import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { signature } from '@machinery/core';
import { dropSchema, POSTGRES_URL, rawPostgresPool, schemaOf } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, expect, it } from 'vitest';
import { PostgresBroker } from '../src/index.js';

// Three worker processes share a queue; one is killed with SIGKILL while it runs tasks. Nothing is
// lost: the killed worker's leases expire and its tasks run again, to the end, in the others.

const fixture = fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url));
const raw = rawPostgresPool();
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await raw.end();
});

interface Child {
  readonly process: ChildProcess;
  readonly started: Set<string>;
  readonly ready: Promise<void>;
}

function startWorker(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const started = new Set<string>();
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready') resolve();
      const [word, uuid] = line.split(' ');
      if (word === 'started' && uuid) started.add(uuid);
    });
  });
  return { process: child, started, ready };
}

const LEASE_MS = 2000;

it(
  'a worker killed with SIGKILL mid-task loses nothing: its tasks run again elsewhere and every task finishes',
  async () => {
    const ns = uniqueNamespace();
    const schema = schemaOf(ns);
    const runs = `"${schema}".runs`;
    const producer = new PostgresBroker({ url: POSTGRES_URL, schema });
    try {
      await producer.migrate();
      await raw.query(`CREATE TABLE ${runs} (uuid text NOT NULL, pid integer NOT NULL, event text NOT NULL)`);
      const env = { POSTGRES_URL, SCHEMA: schema, RUNS_TABLE: runs, LEASE_MS: String(LEASE_MS) };
      const workers = [startWorker(env), startWorker(env), startWorker(env)];
      await Promise.all(workers.map((w) => w.ready));

      const sigs = Array.from({ length: 30 }, () => signature('crash_sleep', [400], { headers: {} }));
      await producer.publishMany(sigs);
      const victim = workers[0] as Child;
      await eventually(() => expect(victim.started.size).toBeGreaterThanOrEqual(2), { timeoutMs: 10_000 });
      victim.process.kill('SIGKILL');
      await new Promise((resolve) => victim.process.once('exit', resolve));

      const pid = victim.process.pid as number;
      const finishedByVictim = new Set(
        (await raw.query(`SELECT uuid FROM ${runs} WHERE pid = $1 AND event = 'finished'`, [pid])).rows.map(
          (r: { uuid: string }) => r.uuid,
        ),
      );
      const held = [...victim.started].filter((uuid) => !finishedByVictim.has(uuid));
      expect(held.length).toBeGreaterThan(0);

      // Every task acknowledged (its row deleted) and finished by someone.
      await eventually(
        async () => {
          expect((await raw.query(`SELECT 1 FROM "${schema}".machinery_tasks`)).rowCount).toBe(0);
        },
        { timeoutMs: LEASE_MS + 30_000, intervalMs: 200 },
      );
      const finished = await raw.query(`SELECT uuid, pid FROM ${runs} WHERE event = 'finished'`);
      expect(new Set(finished.rows.map((r: { uuid: string }) => r.uuid))).toEqual(
        new Set(sigs.map((s) => s.uuid)),
      );
      for (const uuid of held) {
        const elsewhere = finished.rows.some(
          (r: { uuid: string; pid: number }) => r.uuid === uuid && r.pid !== pid,
        );
        expect(elsewhere, `task ${uuid} held by the killed worker finished in another worker`).toBe(true);
      }
    } finally {
      await producer.close();
      for (const w of children) {
        if (w.exitCode !== null || w.signalCode !== null) continue;
        const exited = new Promise((resolve) => w.once('exit', resolve));
        w.kill('SIGTERM');
        await exited;
      }
      await dropSchema(raw, ns);
    }
  },
  LEASE_MS + 60_000,
);
