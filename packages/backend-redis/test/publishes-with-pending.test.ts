import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, Server, signature, TaskStatus } from '@machinery/core';
import { prefixOf, usePrivateRedis } from '@machinery/test-services';
import { Closer, uniqueNamespace } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { RedisBackend } from '../src/index.js';

// A RedisBroker and a RedisBackend on one server: `send` stores PENDING and publishes in the same
// script call. Commands are counted on a redis-server of this file's own.

const redis = usePrivateRedis();
const closer = new Closer();
afterEach(() => closer.closeAll());

function stack(backendUrl = redis.url) {
  const prefix = prefixOf(uniqueNamespace());
  const broker = closer.add(
    new RedisBroker({ url: redis.url, prefix, leaseMs: 60_000, reaperIntervalMs: 60_000 }),
  );
  const backend = closer.add(new RedisBackend({ url: backendUrl, prefix }));
  const server = closer.add(new Server({ broker, backend }));
  return { prefix, broker, backend, server };
}

const add = defineTask('add', (a: number, b: number) => a + b);

it('stores PENDING and publishes a sent task in one script call', async () => {
  const { broker, backend, server } = stack();
  // The first send loads the joint script into the server's cache.
  await server.send(add.signature(0, 0));
  // MONITOR tells a command a client sent from one a script ran ("lua").
  const monitor = await redis.raw.monitor();
  closer.add({ close: async () => monitor.disconnect() });
  const seen: string[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push(`${source === 'lua' ? 'lua' : 'client'} ${String(args[0]).toLowerCase()}`);
  });
  await redis.raw.config('RESETSTAT');

  const result = await server.send(add.signature(1, 2));

  expect((await redis.calls()).evalsha).toBe(1);
  await expect.poll(() => seen).toContain('lua rpush');
  // The test's own CONFIG and INFO aside, the send was one command.
  expect(seen.filter((c) => c.startsWith('client') && !/config|info/.test(c))).toEqual(['client evalsha']);
  expect(seen.indexOf('lua set')).toBeLessThan(seen.indexOf('lua rpush'));
  expect((await backend.getState(result.taskUUID))?.state).toBe(TaskStatus.PENDING);
  expect((await broker.pendingTasks()).map((s) => s.uuid)).toContain(result.taskUUID);
});

it('publishes many concurrent sends, delayed ones and their PENDING states together', async () => {
  const { broker, backend, server } = stack();
  const eta = new Date(Date.now() + 60_000);
  const sent = await Promise.all([
    ...Array.from({ length: 20 }, (_, i) => server.send(add.signature(i, 1))),
    server.send(add.signatureWith({ eta }, 5, 5)),
  ]);
  const states = await Promise.all(sent.map((r) => backend.getState(r.taskUUID)));
  expect(states.map((s) => s?.state)).toEqual(sent.map(() => TaskStatus.PENDING));
  expect((await broker.pendingTasks()).map((s) => s.uuid)).toEqual(sent.slice(0, 20).map((r) => r.taskUUID));
  expect((await broker.delayedTasks()).map((s) => s.uuid)).toEqual([sent[20]?.taskUUID]);
});

it('rejects a send whose queue key holds another type, naming the problem, and publishes nothing', async () => {
  const { prefix, broker, backend, server } = stack();
  await redis.raw.set(`${prefix}${broker.defaultQueue}`, 'not a list');
  const sig = add.signature(1, 2);
  await expect(server.send(sig)).rejects.toThrow(/WRONGTYPE/);
  // PENDING is stored before the publication, as when the two run apart; the task is not queued.
  expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.PENDING);
  expect(await redis.raw.get(`${prefix}${broker.defaultQueue}`)).toBe('not a list');
});

it('declines a broker on another database: the sender stores and publishes separately', async () => {
  const { broker, backend, server } = stack(`${redis.url}/1`);
  expect(backend.storePendingAndPublish(signature('add', [1, 2]), broker)).toBeUndefined();
  const result = await server.send(add.signature(1, 2));
  expect((await backend.getState(result.taskUUID))?.state).toBe(TaskStatus.PENDING);
  expect((await broker.pendingTasks()).map((s) => s.uuid)).toEqual([result.taskUUID]);
});

it('a worker runs tasks sent this way and their results arrive', async () => {
  const { server } = stack();
  server.register(add);
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => server.send(add.signature(i, 1))));
  const worker = server.worker({ concurrency: 10, handleSignals: false });
  await worker.start();
  expect(await Promise.all(results.map((r) => r.get({ timeoutMs: 20_000 })))).toEqual(
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  await worker.stop();
});
