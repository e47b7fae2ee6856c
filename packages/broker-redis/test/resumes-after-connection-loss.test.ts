import { defineTask, MemoryBackend, MemoryBackendStore, Server, silentLogger } from '@machinery/core';
import { PrivateRedis, prefixOf } from '@machinery/test-services';
import { uniqueNamespace } from '@machinery/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';

// A redis-server of this test's own, restarted (all data gone) under a running worker.

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await PrivateRedis.start();
});
afterAll(async () => {
  await redis?.stop();
});

const double = defineTask('double', (n: number) => n * 2);

describe('after a Redis restart', () => {
  it('the worker resumes consuming by itself, and a task sent during the outage runs once Redis is back', async () => {
    const prefix = prefixOf(uniqueNamespace());
    // Results in memory, shared by both servers: the restart wipes the broker's data, not theirs.
    const results = new MemoryBackendStore();
    const make = () => {
      const server = new Server({
        broker: new RedisBroker({ url: redis.url, prefix, leaseMs: 1000, logger: silentLogger }),
        backend: new MemoryBackend({ store: results }),
        logger: silentLogger,
      });
      server.register(double);
      return server;
    };
    const workerSide = make();
    const producer = make();
    try {
      await workerSide.worker({ concurrency: 2, handleSignals: false }).start();
      expect(await (await producer.send(double.signature(1))).get({ timeoutMs: 10_000 })).toBe(2);

      const stoppedAt = Date.now();
      await redis.stop();
      // Sent while Redis is down: the client queues the commands and sends them after reconnecting.
      const duringOutage = producer.send(double.signature(2));
      await redis.restart();
      const restartedAt = Date.now();
      const result = await duringOutage;
      expect(await result.get({ timeoutMs: 30_000 })).toBe(4);
      const firstAfter = Date.now();
      expect(await (await producer.send(double.signature(3))).get({ timeoutMs: 10_000 })).toBe(6);
      console.log(
        `restart test: Redis down for ${restartedAt - stoppedAt} ms; first task done ${firstAfter - restartedAt} ms after the restart`,
      );
    } finally {
      await Promise.all([workerSide.close(), producer.close()]);
    }
  });
});

describe('while Redis is down', () => {
  it('a worker stops and its server closes without waiting for Redis to come back', async () => {
    const prefix = prefixOf(uniqueNamespace());
    const server = new Server({
      broker: new RedisBroker({ url: redis.url, prefix, leaseMs: 1000, logger: silentLogger }),
      backend: new MemoryBackend(),
      logger: silentLogger,
    });
    server.register(double);
    await server.worker({ concurrency: 2, handleSignals: false }).start();
    await redis.stop();
    try {
      // Bounded by the broker's grace periods (a few seconds), well inside the test's timeout.
      await server.close();
    } finally {
      await redis.restart();
    }
  });
});
