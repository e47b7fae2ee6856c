import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  isMachineryError,
  MemoryBroker,
  MemoryBrokerStore,
  type Revocation,
  silentLogger,
} from '@machinery/core';
import {
  AMQP_URL,
  adminConnection,
  closeAdmin,
  connectionsNamed,
  ResultQueues,
  rejectionOf,
  TcpProxy,
  trackResultQueues,
} from '@machinery/test-services';
import { controlPlaneSuite, eventually, observeFor, PerNamespace, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpBackend, AmqpControlPlane, type AmqpControlPlaneOptions } from '../src/index.js';

const run = promisify(execFile);
const SOON = { timeoutMs: 10_000, intervalMs: 20 };

/** Every namespace a test of this file used, to delete what its control planes declared. */
const used = new Set<string>();

/** Deletes the streams, exchange and queues of `namespace`'s control plane (progress queues included). */
async function deleteControlPlane(namespace: string): Promise<void> {
  const base = `${namespace}.machinery_control`;
  const { stdout } = await run('rabbitmqctl', ['list_queues', '-q', '--no-table-headers', 'name']);
  const queues = stdout.split('\n').filter((name) => name.startsWith(`${base}.`));
  const ch = await (await adminConnection()).createChannel();
  try {
    for (const q of queues) await ch.deleteQueue(q);
    await ch.deleteExchange(base);
  } finally {
    await ch.close();
  }
}

afterAll(async () => {
  for (const namespace of used) await deleteControlPlane(namespace).catch(() => {});
  await closeAdmin();
});

function plane(namespace: string, options: AmqpControlPlaneOptions = {}): AmqpControlPlane {
  used.add(namespace);
  return new AmqpControlPlane({
    url: AMQP_URL,
    prefix: `${namespace}.`,
    connectionName: `${namespace}-control`,
    logger: silentLogger,
    ...options,
  });
}

// Tasks travel through an in-memory broker (one store per test, shared by its servers); results live
// in RabbitMQ (AmqpBackend), the control plane too, each instance on its own connection.
const brokers = new PerNamespace(() => new MemoryBrokerStore());
const results = new ResultQueues();

controlPlaneSuite({
  name: 'AmqpControlPlane',
  create: ({ namespace }) => plane(namespace),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({ store: brokers.get(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: trackResultQueues(
      new AmqpBackend({ url: AMQP_URL, connectionName: `${namespace}-backend`, logger: silentLogger }),
      results.of(namespace),
    ),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    await results.delete(namespace);
    await deleteControlPlane(namespace);
    used.delete(namespace);
  },
});

describe('AmqpControlPlane', () => {
  const open: { close(): Promise<void> }[] = [];
  const keep = <T extends { close(): Promise<void> }>(x: T): T => {
    open.push(x);
    return x;
  };
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
  });

  it('after a lost connection, catches up on what was revoked and paused meanwhile and tells its listeners', async () => {
    const ns = uniqueNamespace('mtctl');
    const { proxy, url } = await TcpProxy.inFrontOf(AMQP_URL);
    keep(proxy);
    const watcher = keep(plane(ns, { url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }));
    const operator = keep(plane(ns));
    const revoked: Revocation[] = [];
    const changes: [string, boolean][] = [];
    await watcher.revocations.onRevoke((r) => revoked.push(...r));
    await watcher.pauses.onChange((queue, paused) => changes.push([queue, paused]));

    proxy.cut();
    await eventually(() => expect(watcher.isConnected).toBe(false), SOON);
    await operator.revocations.revoke(['task_while_down'], { reason: 'during the outage' });
    await operator.pauses.pause('queue_while_down');
    proxy.resume();

    // Read back from the stream where it had stopped: nothing written meanwhile is missed.
    await eventually(() => {
      expect(revoked.map((r) => [r.uuid, r.reason])).toEqual([['task_while_down', 'during the outage']]);
      expect(changes).toEqual([['queue_while_down', true]]);
    }, SOON);
    expect(await watcher.pauses.isPaused('queue_while_down')).toBe(true);
    // And it follows live again.
    await operator.revocations.revoke(['task_after']);
    await eventually(() => expect(revoked.map((r) => r.uuid)).toContain('task_after'), SOON);
  });

  it('a read sees every write another process had confirmed, without waiting', async () => {
    const ns = uniqueNamespace('mtctl');
    const a = keep(plane(ns));
    const b = keep(plane(ns));
    expect(await b.pauses.paused()).toEqual([]);
    for (let i = 0; i < 20; i++) {
      await a.revocations.revoke([`task_${i}`]);
      expect((await b.revocations.revoked([`task_${i}`]))[0]?.uuid).toBe(`task_${i}`);
      await (i % 2 === 0 ? a.pauses.pause('q') : a.pauses.resume('q'));
      expect(await b.pauses.isPaused('q')).toBe(i % 2 === 0);
    }
  });

  it('a process that starts later reads back revocations, pauses and workers', async () => {
    const ns = uniqueNamespace('mtctl');
    const a = keep(plane(ns));
    await a.revocations.revoke(['task_old'], { reason: 'earlier' });
    await a.pauses.pause('q_old');
    await a.workers.heartbeat(
      {
        id: 'w1',
        host: 'h',
        pid: 1,
        queue: 'q_old',
        concurrency: 1,
        running: [],
        processed: 0,
        failed: 0,
        tasks: [],
        version: 'x',
        startedAt: 1,
        heartbeatAt: 2,
        paused: true,
      },
      60_000,
    );
    await a.close();
    const later = keep(plane(ns));
    expect((await later.revocations.revoked(['task_old']))[0]?.reason).toBe('earlier');
    expect(await later.pauses.paused()).toEqual(['q_old']);
    expect((await later.workers.list()).map((w) => w.id)).toEqual(['w1']);
  });

  it('keeps a pause and a long revocation readable past the retention while a process watches, and forgets them once none does', async () => {
    const ns = uniqueNamespace('mtctl');
    const options = { stateRetentionMs: 3000 };
    const watcher = keep(plane(ns, options));
    await watcher.pauses.onChange(() => {});
    await watcher.pauses.pause('q_long');
    await watcher.revocations.revoke(['task_long'], { ttlMs: 600_000 });
    await watcher.revocations.revoke(['task_short'], { ttlMs: 1000 });
    // Well past the retention: a newcomer reads back only the last 3–4 s of the stream.
    await observeFor(7000);
    const newcomer = keep(plane(ns, options));
    expect(await newcomer.pauses.paused()).toEqual(['q_long']);
    const [long, short] = await newcomer.revocations.revoked(['task_long', 'task_short']);
    expect(long?.uuid).toBe('task_long');
    expect(short).toBeUndefined();
    await watcher.close();
    await newcomer.close();
    await observeFor(7000);
    const late = keep(plane(ns, options));
    expect(await late.pauses.paused()).toEqual([]);
  });

  it('refuses a stateRetentionMs other than the one the stream was declared with, saying what to do', async () => {
    const ns = uniqueNamespace('mtctl');
    await keep(plane(ns)).pauses.pause('q');
    const other = keep(plane(ns, { stateRetentionMs: 60_000 }));
    const err = await rejectionOf(other.pauses.isPaused('q'));
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/same stateRetentionMs/);
  });

  it('rejects bad input with a clear error', async () => {
    const ns = uniqueNamespace('mtctl');
    const p = keep(plane(ns));
    const info = { id: 'w', queue: 'q' } as Parameters<typeof p.workers.heartbeat>[0];
    const tooLong = await rejectionOf(p.workers.heartbeat(info, 3_600_000));
    expect(isMachineryError(tooLong, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((tooLong as Error).message).toMatch(/heartbeatMs up to 300000/);
    expect(
      isMachineryError(await rejectionOf(p.revocations.revoke(['t'], { ttlMs: -1 })), 'ERR_INVALID_ARGUMENT'),
    ).toBe(true);
    expect(isMachineryError(await rejectionOf(p.pauses.pause('')), 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(() => new AmqpControlPlane({ url: 'http://x' })).toThrow(/amqp:\/\//);
    expect(() => new AmqpControlPlane({ stateRetentionMs: 10 })).toThrow(/at least 1000 ms/);
  });

  it('closes every channel and its connection on close(), and rejects calls after it', async () => {
    const ns = uniqueNamespace('mtctl');
    const p = plane(ns);
    await p.revocations.onRevoke(() => {});
    await p.events.subscribe(() => {});
    await p.workers.list();
    await p.progress.set('task_p', 1, 60_000);
    expect(await connectionsNamed(`${ns}-control`)).toHaveLength(1);
    await p.close();
    await eventually(async () => expect(await connectionsNamed(`${ns}-control`)).toEqual([]), SOON);
    expect(isMachineryError(await rejectionOf(p.pauses.paused()), 'ERR_CLOSED')).toBe(true);
  });

  it('leaves nothing that keeps the process alive once closed', async () => {
    const ns = uniqueNamespace('mtctl');
    used.add(ns);
    const script = `
      import { AmqpControlPlane } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const p = new AmqpControlPlane({ url: ${JSON.stringify(AMQP_URL)}, prefix: ${JSON.stringify(`${ns}.`)} });
      await p.revocations.onRevoke(() => {});
      await p.pauses.onChange(() => {});
      await p.events.subscribe(() => {});
      await p.workers.list();
      await p.revocations.revoke(['t']);
      await p.close();
    `;
    // Exits by itself (the timeout would kill it otherwise, and reject).
    await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  });
});
