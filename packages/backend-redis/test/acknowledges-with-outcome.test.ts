import { RedisBroker } from '@machinery/broker-redis';
import { type Delivery, defineTask, Server, signature, TaskStatus, toResult } from '@machinery/core';
import { prefixOf, usePrivateRedis } from '@machinery/test-services';
import { Closer, eventually, uniqueNamespace } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { RedisBackend } from '../src/index.js';

// A RedisBroker and a RedisBackend on one server: the backend stores a task's outcome and runs the
// broker's acknowledgement in the same script call. Commands are counted on a redis-server of this
// file's own; the broker's timers are slowed down so that only the calls under test run meanwhile.

const redis = usePrivateRedis();
const closer = new Closer();
afterEach(() => closer.closeAll());

function adapters(url = redis.url) {
  const prefix = prefixOf(uniqueNamespace());
  const broker = closer.add(
    new RedisBroker({ url: redis.url, prefix, leaseMs: 60_000, reaperIntervalMs: 60_000 }),
  );
  const backend = closer.add(new RedisBackend({ url, prefix }));
  return { prefix, broker, backend };
}

/** Takes `n` deliveries of the default queue. */
async function deliveries(broker: RedisBroker, n: number): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const consumer = await broker.consume(broker.defaultQueue, (d) => got.push(d), {
    concurrency: n,
    prefetch: 0,
  });
  closer.add({ close: () => consumer.stop() });
  await eventually(() => expect(got).toHaveLength(n));
  return got;
}

async function scriptCalls(): Promise<number> {
  const calls = await redis.calls();
  return (calls.evalsha ?? 0) + (calls.eval ?? 0);
}

it('stores the outcome and acknowledges the delivery in one script call', async () => {
  const { prefix, broker, backend } = adapters();
  const sigs = [signature('add', [1, 2]), signature('add', [3, 4])];
  for (const sig of sigs) await backend.setStatePending(sig);
  await broker.publishMany(sigs);
  const [warmUp, delivery] = (await deliveries(broker, 2)) as [Delivery, Delivery];
  // The first call loads the joint script into the server's cache.
  await backend.storeAndAcknowledge(warmUp, TaskStatus.SUCCESS, { results: [toResult(3)] });
  await redis.raw.config('RESETSTAT');

  await backend.storeAndAcknowledge(delivery, TaskStatus.SUCCESS, { results: [toResult(7)] });

  expect(await scriptCalls()).toBe(1);
  const state = await backend.getState(delivery.signature.uuid);
  expect(state?.state).toBe(TaskStatus.SUCCESS);
  expect(state?.results).toEqual([toResult(7)]);
  // Acknowledged already: a second acknowledgement finds no lease, and no lease is left behind.
  expect(await delivery.ack()).toBe(false);
  expect(await redis.raw.hlen(`${prefix}${broker.defaultQueue}:inflight`)).toBe(0);
});

it('stores a failure and acknowledges it the same way', async () => {
  const { broker, backend } = adapters();
  const sig = signature('add', [1, 2]);
  await broker.publish(sig);
  const [delivery] = (await deliveries(broker, 1)) as [Delivery];
  await backend.storeAndAcknowledge(delivery, TaskStatus.FAILURE, { error: 'boom' });
  expect((await backend.getState(sig.uuid))?.error).toBe('boom');
  expect(await delivery.nack({ requeue: true })).toBe(false);
});

it('declines a delivery of a broker on another database, which the Worker then acknowledges itself', async () => {
  const { broker, backend } = adapters(`${redis.url}/1`);
  await broker.publish(signature('add', [1, 2]));
  const [delivery] = (await deliveries(broker, 1)) as [Delivery];
  expect(backend.storeAndAcknowledge(delivery, TaskStatus.SUCCESS, { results: [] })).toBeUndefined();
  expect(await delivery.ack()).toBe(true);
});

it('a worker drains tasks with results stored, each acknowledged with its outcome', async () => {
  const { prefix, broker, backend } = adapters();
  const server = closer.add(new Server({ broker, backend }));
  const add = defineTask('add', (a: number, b: number) => a + b);
  const fail = defineTask('fail', () => {
    throw new Error('no');
  });
  server.register(add, fail);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => server.send(add.signature(i, 1))));
  const failed = await server.send(fail.signature());
  const worker = server.worker({ concurrency: 10, handleSignals: false });
  await worker.start();
  expect(await Promise.all(results.map((r) => r.get({ timeoutMs: 20_000 })))).toEqual(
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  await expect(failed.get({ timeoutMs: 20_000 })).rejects.toThrow('no');
  await worker.stop();
  // Nothing is left leased, queued or dead-lettered.
  expect(await broker.pendingTasks()).toEqual([]);
  expect(await broker.deadLetters()).toEqual([]);
  expect(await redis.raw.hlen(`${prefix}${broker.defaultQueue}:inflight`)).toBe(0);
});
