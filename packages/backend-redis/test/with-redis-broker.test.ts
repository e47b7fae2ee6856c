import { RedisBroker } from '@machinery/broker-redis';
import { deleteKeys, PrivateRedis, prefixOf, rawClient } from '@machinery/test-services';
import { scenarioSuite } from '@machinery/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

// The end-to-end scenarios with tasks, results and locks on one Redis — the pairing in which the
// backend acknowledges each task in the script call that stores its outcome. A redis-server of this
// file's own, so that the broker restart restarts the backend's server too.
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
    name: 'RedisBroker + RedisBackend + RedisLock',
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
