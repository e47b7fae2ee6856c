import { RedisBroker } from '@machinery/broker-redis';
import { isMachineryError, Server, type Signature, signature, TaskStatus } from '@machinery/core';
import { prefixOf, usePrivateRedis } from '@machinery/test-services';
import { Closer, uniqueNamespace } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { RedisBackend } from '../src/index.js';

// A RedisBroker and a RedisBackend on one server: the backend stores a task's PENDING state and runs
// the broker's publication in the same script call. Commands are counted on a redis-server of this
// file's own.

const redis = usePrivateRedis();
const closer = new Closer();
afterEach(() => closer.closeAll());

function adapters(options: { url?: string; maxMessageBytes?: number } = {}) {
  const prefix = prefixOf(uniqueNamespace());
  const broker = closer.add(
    new RedisBroker({
      url: redis.url,
      prefix,
      ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    }),
  );
  const backend = closer.add(new RedisBackend({ url: options.url ?? redis.url, prefix }));
  return { prefix, broker, backend };
}

function storeAndPublish(backend: RedisBackend, broker: RedisBroker, sig: Signature): Promise<void> {
  const joint = backend.setStatePendingAndPublish(sig, broker);
  if (joint === undefined) throw new Error('the backend declined a broker on its own server');
  return joint;
}

async function scriptCalls(): Promise<number> {
  const calls = await redis.calls();
  return (calls.evalsha ?? 0) + (calls.eval ?? 0);
}

it('stores PENDING and publishes the task in one script call', async () => {
  const { broker, backend } = adapters();
  // The first call loads the joint script into the server's cache.
  await storeAndPublish(backend, broker, signature('add', [0, 0]));
  await redis.raw.config('RESETSTAT');
  const sig = signature('add', [1, 2]);

  await storeAndPublish(backend, broker, sig);

  expect(await scriptCalls()).toBe(1);
  expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.PENDING);
  expect((await broker.pendingTasks()).map((s) => s.uuid)).toContain(sig.uuid);
});

it('puts a task with a future ETA in the delayed set, as publish does', async () => {
  const { broker, backend } = adapters();
  const sig = signature('add', [1, 2], { eta: new Date(Date.now() + 60_000) });
  await storeAndPublish(backend, broker, sig);
  expect((await broker.delayedTasks()).map((s) => s.uuid)).toEqual([sig.uuid]);
  expect(await broker.pendingTasks()).toEqual([]);
});

it('refuses a task the broker cannot publish before anything is stored', async () => {
  const { broker, backend } = adapters({ maxMessageBytes: 1024 });
  const sig = signature('echo', ['x'.repeat(2048)]);
  const err = await storeAndPublish(backend, broker, sig).catch((e: unknown) => e);
  expect(isMachineryError(err) && err.code).toBe('ERR_PAYLOAD_TOO_LARGE');
  expect(await backend.getState(sig.uuid)).toBeUndefined();
  expect(await broker.pendingTasks()).toEqual([]);
});

it('a state write of the same call that fails holds the publication back, and the send fails', async () => {
  const { prefix, broker, backend } = adapters();
  const bad = signature('add', [1, 2]);
  const sent = signature('add', [3, 4]);
  await redis.raw.rpush(prefix + bad.uuid, 'a list, not a state');
  // Queued in one event-loop turn: one script call holds both writes and the publication.
  const [started, published] = await Promise.allSettled([
    backend.setStateStarted(bad),
    storeAndPublish(backend, broker, sent),
  ]);
  expect(started.status).toBe('rejected');
  expect(published.status).toBe('rejected');
  expect(String((published as PromiseRejectedResult).reason)).toMatch(
    new RegExp(`Storing state PENDING of task ${sent.uuid} and publishing it failed`),
  );
  expect(await broker.pendingTasks()).toEqual([]);
});

it('a queue key of another type fails the send and publishes nothing', async () => {
  const { prefix, broker, backend } = adapters();
  await redis.raw.set(`${prefix}${broker.defaultQueue}`, 'a string, not a queue');
  const sig = signature('add', [1, 2]);
  const err = await storeAndPublish(backend, broker, sig).catch((e: unknown) => e);
  expect(String(err)).toMatch(/WRONGTYPE.*nothing was published/);
  expect(await redis.raw.get(`${prefix}${broker.defaultQueue}`)).toBe('a string, not a queue');
});

it('declines a broker on another database, and a closed broker', async () => {
  const elsewhere = adapters({ url: `${redis.url}/1` });
  expect(elsewhere.backend.setStatePendingAndPublish(signature('add'), elsewhere.broker)).toBeUndefined();
  const { broker, backend } = adapters();
  await broker.close();
  expect(backend.setStatePendingAndPublish(signature('add'), broker)).toBeUndefined();
});

it('sends of one event-loop turn leave in script calls of at most 50 states, every task published', async () => {
  const { broker, backend } = adapters();
  const server = closer.add(new Server({ broker, backend }));
  await server.send(signature('add', [0, 0]));
  await redis.raw.config('RESETSTAT');
  const results = await Promise.all(
    Array.from({ length: 120 }, (_, i) => server.send(signature('add', [i, 1]))),
  );
  expect(await scriptCalls()).toBe(3);
  const pending = new Set((await broker.pendingTasks(undefined, 200)).map((s) => s.uuid));
  for (const r of results) {
    expect(pending.has(r.taskUUID)).toBe(true);
    expect((await backend.getState(r.taskUUID))?.state).toBe(TaskStatus.PENDING);
  }
});
