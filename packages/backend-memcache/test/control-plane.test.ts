import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  isMachineryError,
  MemoryBroker,
  MemoryBrokerStore,
  type Revocation,
  silentLogger,
  type TaskEvent,
  type WorkerInfo,
} from '@machinery/core';
import { freePort, rejectionOf, TcpProxy } from '@machinery/test-services';
import { controlPlaneSuite, eventually, observeFor, PerNamespace, uniqueNamespace } from '@machinery/testing';
import memjs from 'memjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemcacheControlPlane, type MemcacheControlPlaneOptions } from '../src/index.js';
import { incrementBy } from '../src/memjs-commands.js';
import { MEMCACHE_SERVERS, makeBackend } from './memcache.js';

const raw = memjs.Client.create(MEMCACHE_SERVERS, { logger: { log: () => {} } });
afterAll(() => raw.close());

const prefixOf = (namespace: string) => `${namespace}:`;
const controlKey = (namespace: string, rest: string) => `${prefixOf(namespace)}machinery_control:${rest}`;

/** memcached cannot list keys: delete the ones that never expire, let the rest lapse. */
async function deleteNamespace(namespace: string): Promise<void> {
  await Promise.all(
    ['paused', 'workers', 'signals:seq', 'events:seq'].map((k) => raw.delete(controlKey(namespace, k))),
  );
}

// Tasks travel through an in-memory broker (one store per test, shared by its servers); results and
// the control plane live in memcached, each instance on its own connections.
const brokers = new PerNamespace(() => new MemoryBrokerStore());

controlPlaneSuite({
  name: 'MemcacheControlPlane',
  create: ({ namespace }) =>
    new MemcacheControlPlane({ servers: MEMCACHE_SERVERS, prefix: prefixOf(namespace) }),
  adapters: (ctx) => ({
    broker: new MemoryBroker({ store: brokers.get(ctx.namespace), leaseMs: ctx.redeliveryTimeoutMs }),
    backend: makeBackend(ctx),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    await deleteNamespace(namespace);
  },
});

const SOON = { timeoutMs: 15_000, intervalMs: 20 };
const open: MemcacheControlPlane[] = [];
const proxies: TcpProxy[] = [];
const namespaces: string[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  for (const p of proxies.splice(0)) await p.close();
  for (const ns of namespaces.splice(0)) await deleteNamespace(ns);
});

function namespace(): string {
  const ns = uniqueNamespace();
  namespaces.push(ns);
  return ns;
}

function plane(ns: string, extra: MemcacheControlPlaneOptions = {}): MemcacheControlPlane {
  const control = new MemcacheControlPlane({
    servers: MEMCACHE_SERVERS,
    prefix: prefixOf(ns),
    logger: silentLogger,
    ...extra,
  });
  open.push(control);
  return control;
}

function workerInfo(id: string): WorkerInfo {
  return {
    id,
    host: 'h',
    pid: 1,
    queue: 'q',
    concurrency: 1,
    running: [],
    processed: 0,
    failed: 0,
    tasks: [],
    version: '0',
    startedAt: 0,
    heartbeatAt: 0,
    paused: false,
  };
}

function event(n: number): TaskEvent {
  return { type: 'sent', taskUUID: `task_${n}`, taskName: 'add', queue: 'q', at: 1_700_000_000_000 + n };
}

/**
 * Takes `count` numbers of a log (whose counter exists) without writing their entries, as a writer that
 * died after its `incr`; returns the last.
 */
function numberWithoutWriting(ns: string, log: string, count: number): Promise<number> {
  return incrementBy(raw, controlKey(ns, `${log}:seq`), count, count);
}

describe('MemcacheControlPlane: the polled logs', () => {
  it('a listener still hears revocations after the counter was reset by memcached', async () => {
    const ns = namespace();
    const a = plane(ns);
    const b = plane(ns, { pollIntervalMs: 50 });
    const seen: string[] = [];
    await b.revocations.onRevoke((r) => seen.push(...r.map((x) => x.uuid)));
    await a.revocations.revoke(['one']);
    await a.revocations.revoke(['two']);
    await a.revocations.revoke(['three']);
    await eventually(() => expect(seen).toEqual(['one', 'two', 'three']), SOON);

    // Lost while the listener polls: it finds the counter missing, then back at 1.
    await raw.delete(controlKey(ns, 'signals:seq'));
    await observeFor(300);
    await a.revocations.revoke(['four']);
    await eventually(() => expect(seen).toEqual(['one', 'two', 'three', 'four']), SOON);

    // Lost and numbered again at once, before the listener saw it missing: the new counter is in
    // another epoch.
    await raw.delete(controlKey(ns, 'signals:seq'));
    await a.revocations.revoke(['five']);
    await eventually(() => expect(seen).toEqual(['one', 'two', 'three', 'four', 'five']), SOON);
    // A new counter is read from its start: nothing was skipped, nothing old was read again.
    expect(b.skippedEntries).toBe(0);
  });

  it('a follower far behind skips to the newest entries and counts what it skipped', async () => {
    const ns = namespace();
    const a = plane(ns);
    const b = plane(ns, { pollIntervalMs: 50, maxCatchUp: 10 });
    const seen: TaskEvent[] = [];
    await b.events.subscribe((e) => seen.push(e));
    await a.events.publish([event(0)]);
    await eventually(() => expect(seen).toEqual([event(0)]), SOON);
    // A thousand batches b never got to read (it was cut off, or a burst outran it).
    await numberWithoutWriting(ns, 'events', 1000);
    await a.events.publish([event(1), event(2)]);
    await a.events.publish([event(3)]);
    await eventually(() => expect(seen).toEqual([0, 1, 2, 3].map(event)), SOON);
    // 990 beyond its reach at once, the other 10 once they stayed unreadable past the grace period.
    await eventually(() => expect(b.skippedEntries).toBe(1000), SOON);
    expect(a.skippedEntries).toBe(0);
  });

  it('an entry numbered but never written (its writer died) holds nothing back and counts as skipped', async () => {
    const ns = namespace();
    const a = plane(ns);
    const b = plane(ns, { pollIntervalMs: 50 });
    const seen: TaskEvent[] = [];
    await b.events.subscribe((e) => seen.push(e));
    await a.events.publish([event(1)]);
    await numberWithoutWriting(ns, 'events', 1);
    await a.events.publish([event(2)]);
    await eventually(() => expect(seen).toEqual([event(1), event(2)]), SOON);
    await eventually(() => expect(b.skippedEntries).toBe(1), SOON);
  });

  it('an entry written late (its writer was slow) is still delivered, after the ones that came before it', async () => {
    const ns = namespace();
    const a = plane(ns);
    // A long grace period (10 polls) so the late entry surely arrives within it.
    const b = plane(ns, { pollIntervalMs: 1000 });
    const seen: number[] = [];
    await b.events.subscribe((e) => seen.push(Number(e.taskUUID.slice(5))));
    await a.events.publish([event(0)]);
    await eventually(() => expect(seen).toEqual([0]), SOON);
    const slow = await numberWithoutWriting(ns, 'events', 1);
    await a.events.publish([event(2)]);
    await eventually(() => expect(seen).toEqual([0, 2]), SOON);
    await raw.set(controlKey(ns, `events:${slow}`), JSON.stringify({ i: 'late', d: [event(1)] }), {
      expires: 60,
    });
    await eventually(() => expect(seen).toEqual([0, 2, 1]), SOON);
    expect(b.skippedEntries).toBe(0);
  });

  it('splits a batch larger than one memcached item into several entries, delivered in order', async () => {
    const ns = namespace();
    const a = plane(ns);
    const b = plane(ns, { pollIntervalMs: 50 });
    const seen: TaskEvent[] = [];
    await b.events.subscribe((e) => seen.push(e));
    // About 3 MiB of events: over memcached's 1 MiB item size.
    const big = Array.from({ length: 3000 }, (_, n) => ({ ...event(n), error: 'x'.repeat(1000) }));
    await a.events.publish(big);
    await eventually(() => expect(seen.length).toBe(big.length), SOON);
    expect(seen).toEqual(big);
  });

  it('a listener cut off from memcached hears what was announced meanwhile once it is back', async () => {
    const ns = namespace();
    const { proxy, url } = await TcpProxy.inFrontOf(`memcache://${MEMCACHE_SERVERS.split(',')[0]}`);
    proxies.push(proxy);
    const a = plane(ns);
    const b = plane(ns, { servers: new URL(url).host, pollIntervalMs: 50 });
    const seen: Revocation[] = [];
    await b.revocations.onRevoke((r) => seen.push(...r));
    proxy.cut();
    await a.revocations.revoke(['while_cut'], { reason: 'outage' });
    await observeFor(500);
    expect(seen).toEqual([]);
    proxy.resume();
    await eventually(
      () => expect(seen.map((r) => [r.uuid, r.reason])).toEqual([['while_cut', 'outage']]),
      SOON,
    );
  });
});

describe('MemcacheControlPlane: keys and updates', () => {
  it('keeps every pause when many instances pause queues at the same moment (gets/cas retries conflicts)', async () => {
    const ns = namespace();
    const planes = Array.from({ length: 8 }, () => plane(ns));
    const queues = Array.from({ length: 24 }, (_, i) => `q${String(i).padStart(2, '0')}`);
    await Promise.all(
      queues.map((q, i) => (planes[i % planes.length] as MemcacheControlPlane).pauses.pause(q)),
    );
    expect(await (planes[0] as MemcacheControlPlane).pauses.paused()).toEqual(queues);
    await Promise.all(
      queues.slice(0, 12).map((q, i) => (planes[i % planes.length] as MemcacheControlPlane).pauses.resume(q)),
    );
    expect(await (planes[3] as MemcacheControlPlane).pauses.paused()).toEqual(queues.slice(12));
  });

  it('lists every worker when many beat for the first time at once', async () => {
    const ns = namespace();
    const planes = Array.from({ length: 8 }, () => plane(ns));
    const ids = Array.from({ length: 24 }, (_, i) => `w${String(i).padStart(2, '0')}`);
    await Promise.all(
      ids.map((id, i) =>
        (planes[i % planes.length] as MemcacheControlPlane).workers.heartbeat(workerInfo(id), 60_000),
      ),
    );
    expect((await (planes[5] as MemcacheControlPlane).workers.list()).map((w) => w.id)).toEqual(ids);
  });

  it('a new worker drops from the index the workers that died while nobody listed them', async () => {
    const ns = namespace();
    const a = plane(ns);
    const info = (id: string) => ({ ...workerInfo(id), heartbeatAt: Date.now() });
    await a.workers.heartbeat(info('dead'), 300);
    await a.workers.heartbeat(info('alive'), 60_000);
    const index = async () => JSON.parse(String((await raw.get(controlKey(ns, 'workers'))).value));
    expect(await index()).toEqual(['dead', 'alive']);
    // Without list() (which prunes by itself): wait for the dead one's deadline to pass.
    await eventually(async () => {
      const stored = (await raw.get(controlKey(ns, 'worker:dead'))).value;
      expect(stored === null || JSON.parse(stored.toString()).until < Date.now()).toBe(true);
    }, SOON);
    await a.workers.heartbeat(info('alive'), 60_000);
    expect(await index()).toEqual(['dead', 'alive']);
    await a.workers.heartbeat(info('newcomer'), 60_000);
    expect(await index()).toEqual(['alive', 'newcomer']);
  });

  it('stores ids too long for a memcached key under their hash', async () => {
    const ns = namespace();
    const a = plane(ns);
    const long = `schedule:${'x'.repeat(400)}`;
    await a.revocations.revoke([long, 'short']);
    expect((await a.revocations.revoked(['short', long])).map((r) => r?.uuid)).toEqual(['short', long]);
    await a.progress.set(long, { done: 1 }, 60_000);
    expect((await a.progress.get(long))?.data).toEqual({ done: 1 });
  });

  it('looks up revocations spread over two memcached servers with one multi-get each', async () => {
    const ns = namespace();
    const { proxy, url } = await TcpProxy.inFrontOf(`memcache://${MEMCACHE_SERVERS.split(',')[0]}`);
    proxies.push(proxy);
    // Two servers in the list (the second one a proxy in front of the same memcached).
    const a = plane(ns, { servers: `${MEMCACHE_SERVERS.split(',')[0]},${new URL(url).host}` });
    const uuids = Array.from({ length: 150 }, (_, i) => `task_${i}`);
    await a.revocations.revoke(uuids.filter((_, i) => i % 2 === 0));
    const servers = new Set(
      uuids.map((u) => a.client.server(`${prefixOf(ns)}machinery_control:revoked:${u}`)),
    );
    expect(servers.size).toBe(2);
    const found = await a.revocations.revoked(uuids);
    expect(found.map((r) => r?.uuid)).toEqual(uuids.map((u, i) => (i % 2 === 0 ? u : undefined)));
  });
});

describe('MemcacheControlPlane: bad input, failures and closing', () => {
  it('rejects bad options and arguments saying what was wrong', async () => {
    for (const options of [
      { pollIntervalMs: 0 },
      { logTtlMs: -1 },
      { maxCatchUp: 0 },
      { prefix: 'p'.repeat(200) },
    ]) {
      let thrown: unknown;
      try {
        plane(namespace(), options);
      } catch (err) {
        thrown = err;
      }
      expect(isMachineryError(thrown, 'ERR_INVALID_ARGUMENT')).toBe(true);
      expect(String(thrown)).toMatch(/pollIntervalMs|logTtlMs|maxCatchUp|prefix/);
    }
    const a = plane(namespace());
    const ttl = await rejectionOf(a.revocations.revoke(['t'], { ttlMs: 0 }));
    expect(isMachineryError(ttl, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(String(ttl)).toMatch(/ttlMs must be a positive number/);
    const queue = await rejectionOf(a.pauses.pause(''));
    expect(isMachineryError(queue, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(String(queue)).toMatch(/queue name/);
  });

  it('rejects with ERR_PAYLOAD_TOO_LARGE for progress over the item size', async () => {
    const a = plane(namespace());
    const error = await rejectionOf(a.progress.set('big', 'x'.repeat(2 * 1024 * 1024), 60_000));
    expect(isMachineryError(error, 'ERR_PAYLOAD_TOO_LARGE')).toBe(true);
  });

  it('rejects with ERR_CONNECTION naming the servers when memcached is out of reach', async () => {
    const port = await freePort();
    const a = plane(namespace(), { servers: `127.0.0.1:${port}`, clientOptions: { retries: 1 } });
    const error = await rejectionOf(a.revocations.revoked(['t']));
    expect(isMachineryError(error, 'ERR_CONNECTION')).toBe(true);
    expect(String(error)).toContain(`127.0.0.1:${port}`);
    const listen = await rejectionOf(a.revocations.onRevoke(() => {}));
    expect(isMachineryError(listen, 'ERR_CONNECTION')).toBe(true);
  });

  it('rejects every call after close with ERR_CLOSED, and closing twice is fine', async () => {
    const a = plane(namespace());
    await a.revocations.onRevoke(() => {});
    await a.close();
    await a.close();
    expect(isMachineryError(await rejectionOf(a.pauses.paused()), 'ERR_CLOSED')).toBe(true);
    expect(isMachineryError(await rejectionOf(a.events.subscribe(() => {})), 'ERR_CLOSED')).toBe(true);
  });

  it('leaves open a memjs client it was given', async () => {
    const ns = namespace();
    const client = memjs.Client.create(MEMCACHE_SERVERS, { logger: { log: () => {} } });
    try {
      const a = plane(ns, { client });
      await a.pauses.pause('q');
      await a.close();
      expect(await plane(ns, { client }).pauses.paused()).toEqual(['q']);
    } finally {
      client.close();
    }
  });

  it('a process whose listeners poll exits on its own once it closed its control plane', async () => {
    const ns = namespace();
    const fixture = fileURLToPath(new URL('./fixtures/polling-process.mjs', import.meta.url));
    const child = spawn(process.execPath, [fixture, MEMCACHE_SERVERS, prefixOf(ns)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const outcome = await Promise.race([
      exit,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000).unref()),
    ]);
    if (outcome === 'still running after 20 s') child.kill('SIGKILL');
    expect(out).toBe('closed\n');
    expect(outcome).toBe(0);
  });
});
