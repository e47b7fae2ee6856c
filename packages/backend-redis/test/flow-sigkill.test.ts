import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, MemoryBackend, Server, silentLogger } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, expect, it } from 'vitest';

// Three worker processes share per-customer concurrency limits on Redis; one is killed with SIGKILL
// while it holds slots. Its slots free themselves when their leases lapse, its tasks run again
// elsewhere, and at no moment do more than `max` tasks of one customer run.

const fixture = fileURLToPath(new URL('./fixtures/flow-worker.mjs', import.meta.url));
const raw = rawClient(REDIS_URL);
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  raw.disconnect();
});

interface Child {
  readonly process: ChildProcess;
  readonly started: string[];
  readonly ready: Promise<void>;
}

function startWorker(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const started: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready') resolve();
      const [word, uuid] = line.split(' ');
      if (word === 'started' && uuid) started.push(uuid);
    });
  });
  return { process: child, started, ready };
}

type Event = { kind: 'start' | 'end'; customer: string; uuid: string; pid: number; at: number };

/** The most executions of one customer running at once, from recorded starts and ends. */
function peakRunning(events: readonly Event[], customer: string): number {
  const points = events
    .filter((e) => e.customer === customer)
    .map((e) => ({ at: e.at, delta: e.kind === 'start' ? 1 : -1 }))
    // At equal times an end comes first: the slot was released before the next start was admitted.
    .sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let peak = 0;
  for (const p of points) {
    running += p.delta;
    peak = Math.max(peak, running);
  }
  return peak;
}

const keyed = defineTask('flow_keyed', (_customer: string, _ms: number) => {});

it('a worker SIGKILLed while holding concurrency slots: its slots free after their lease, nothing is lost, the per-key limit is never exceeded', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const eventsKey = `${prefix}events`;
  const max = 2;
  const env = {
    REDIS_URL,
    PREFIX: prefix,
    EVENTS_KEY: eventsKey,
    BROKER_LEASE_MS: '2000',
    SLOT_LEASE_MS: '1500',
    MAX: String(max),
  };
  const workers = [startWorker(env), startWorker(env), startWorker(env)];
  await Promise.all(workers.map((w) => w.ready));
  const producer = new Server({
    broker: new RedisBroker({ url: REDIS_URL, prefix, logger: silentLogger }),
    backend: new MemoryBackend(),
    logger: silentLogger,
  });
  try {
    const customers = ['acme', 'globex'];
    const results = await producer.sendMany(
      Array.from({ length: 24 }, (_, i) => keyed.signature(customers[i % 2] as string, 250)),
    );
    const victim = workers[0] as Child;
    await eventually(() => expect(victim.started.length).toBeGreaterThanOrEqual(1), { timeoutMs: 10_000 });
    victim.process.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((resolve) => victim.process.once('exit', resolve));

    const read = async () => (await raw.lrange(eventsKey, 0, -1)).map((e) => JSON.parse(e) as Event);
    // Every task ends (the victim's held ones run again elsewhere once broker leases lapse).
    await eventually(
      async () => {
        const ended = new Set((await read()).filter((e) => e.kind === 'end').map((e) => e.uuid));
        expect(results.filter((r) => !ended.has(r.taskUUID))).toEqual([]);
      },
      { timeoutMs: 40_000, intervalMs: 200 },
    );
    const events = await read();
    // The victim's unfinished executions stopped when it died.
    const victimPid = victim.process.pid as number;
    const ended = new Set(events.filter((e) => e.kind === 'end' && e.pid === victimPid).map((e) => e.uuid));
    for (const e of events.filter((e) => e.kind === 'start' && e.pid === victimPid && !ended.has(e.uuid))) {
      events.push({ ...e, kind: 'end', at: killedAt });
    }
    expect(events.some((e) => e.pid === victimPid)).toBe(true);
    for (const customer of customers) expect(peakRunning(events, customer)).toBeLessThanOrEqual(max);
  } finally {
    await producer.close();
    for (const w of workers.slice(1)) w.process.kill('SIGTERM');
    await deleteKeys(raw, prefix);
  }
}, 60_000);
