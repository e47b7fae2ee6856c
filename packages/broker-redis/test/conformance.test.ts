import { RedisBackend, RedisLock } from '@machinery/backend-redis';
import { deleteKeys, PrivateRedis, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { brokerSuite, scenarioSuite } from '@machinery/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBroker } from '../src/index.js';

const shared = rawClient(REDIS_URL);
afterAll(() => shared.disconnect());

brokerSuite({
  name: 'RedisBroker',
  create: ({ namespace, redeliveryTimeoutMs }) =>
    new RedisBroker({ url: REDIS_URL, prefix: prefixOf(namespace), leaseMs: redeliveryTimeoutMs }),
  injectRaw: async ({ namespace }, queue, body) => {
    await shared.rpush(prefixOf(namespace) + queue, body);
  },
  cleanup: ({ namespace }) => deleteKeys(shared, prefixOf(namespace)),
});

// The scenarios include a broker restart, so they run against a redis-server of their own.
describe('on a private redis-server', () => {
  let server: PrivateRedis | undefined;
  let raw: Redis | undefined;
  const url = () => (server as PrivateRedis).url;
  beforeAll(async () => {
    server = await PrivateRedis.start();
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  scenarioSuite({
    name: 'RedisBroker + RedisBackend',
    create: ({ namespace, redeliveryTimeoutMs }) => ({
      broker: new RedisBroker({ url: url(), prefix: prefixOf(namespace), leaseMs: redeliveryTimeoutMs }),
      backend: new RedisBackend({ url: url(), prefix: prefixOf(namespace) }),
      lock: new RedisLock({ url: url(), prefix: prefixOf(namespace) }),
    }),
    injectRaw: async ({ namespace }, queue, body) => {
      await (raw as Redis).rpush(prefixOf(namespace) + queue, body);
    },
    restartBroker: () => (server as PrivateRedis).restart(),
    cleanup: ({ namespace }) => deleteKeys(raw as Redis, prefixOf(namespace)),
  });
});
