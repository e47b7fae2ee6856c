import { MemoryBackend, MemoryBackendStore, MemoryLock, MemoryLockStore } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient, usePrivateRedis } from '@machinery/test-services';
import { brokerGroups, brokerSuite, scenarioSuite } from '@machinery/testing';
import { afterAll, describe } from 'vitest';
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

// With priorities the claim, settle, reap, purge and inspection scripts take the priority lists too:
// the groups that exercise those run again in that configuration. A long blocking wait makes a
// missed doorbell fail the idle-consumer test instead of passing on the wait's timeout.
for (const group of [
  'priorities',
  'settlement',
  'leases',
  'delays',
  'deadLetters',
  'inspection',
  'purge',
] as const) {
  brokerGroups[group]({
    name: 'RedisBroker (maxPriority 9)',
    create: ({ namespace, redeliveryTimeoutMs }) =>
      new RedisBroker({
        url: REDIS_URL,
        prefix: prefixOf(namespace),
        leaseMs: redeliveryTimeoutMs,
        maxPriority: 9,
        blockTimeoutMs: 60_000,
      }),
    cleanup: ({ namespace }) => deleteKeys(shared, prefixOf(namespace)),
  });
}

// The scenarios include a broker restart, so they run against a redis-server of their own. Results
// and locks are kept in memory, one store per test shared by its servers: this package proves the
// broker; @machinery/backend-redis runs the same scenarios for the Redis backend and lock.
describe('on a private redis-server', () => {
  const backends = new Map<string, MemoryBackendStore>();
  const locks = new Map<string, MemoryLockStore>();
  const storeOf = <T>(map: Map<string, T>, namespace: string, make: () => T): T => {
    let store = map.get(namespace);
    if (!store) {
      store = make();
      map.set(namespace, store);
    }
    return store;
  };
  const redis = usePrivateRedis();
  const url = () => redis.url;

  scenarioSuite({
    name: 'RedisBroker + MemoryBackend',
    create: ({ namespace, redeliveryTimeoutMs }) => ({
      broker: new RedisBroker({ url: url(), prefix: prefixOf(namespace), leaseMs: redeliveryTimeoutMs }),
      backend: new MemoryBackend({ store: storeOf(backends, namespace, () => new MemoryBackendStore()) }),
      lock: new MemoryLock({ store: storeOf(locks, namespace, () => new MemoryLockStore()) }),
    }),
    injectRaw: async ({ namespace }, queue, body) => {
      await redis.raw.rpush(prefixOf(namespace) + queue, body);
    },
    restartBroker: () => redis.restart(),
    cleanup: async ({ namespace }) => {
      backends.delete(namespace);
      locks.delete(namespace);
      await deleteKeys(redis.raw, prefixOf(namespace));
    },
  });
});
