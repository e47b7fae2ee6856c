import { MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { backendSuite, lockSuite, PerNamespace, scenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

const shared = rawClient(REDIS_URL);
afterAll(() => shared.disconnect());

backendSuite({
  name: 'RedisBackend',
  create: ({ namespace, resultsExpireIn }) =>
    new RedisBackend({
      url: REDIS_URL,
      prefix: prefixOf(namespace),
      ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
    }),
  // What a Go Machinery worker does: SET … EX, and no message.
  writeRaw: async ({ namespace }, uuid, json) => {
    await shared.set(prefixOf(namespace) + uuid, json, 'EX', 3600);
  },
  cleanup: ({ namespace }) => deleteKeys(shared, prefixOf(namespace)),
});

// The lock suite names its keys `<namespace>:…` itself.
lockSuite({
  name: 'RedisLock',
  create: () => new RedisLock({ url: REDIS_URL }),
  cleanup: ({ namespace }) => deleteKeys(shared, `${namespace}:`),
});

// The end-to-end scenarios with results and locks in Redis; tasks travel through an in-memory broker
// (one store per test, shared by its servers), so that this package stands alone.
const brokers = new PerNamespace(() => new MemoryBrokerStore());

scenarioSuite({
  name: 'MemoryBroker + RedisBackend + RedisLock',
  create: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({ store: brokers.get(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: new RedisBackend({ url: REDIS_URL, prefix: prefixOf(namespace) }),
    lock: new RedisLock({ url: REDIS_URL, prefix: prefixOf(namespace) }),
  }),
  injectRaw: async ({ namespace }, queue, body) => {
    brokers.get(namespace).injectRaw(queue, body);
  },
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    await deleteKeys(shared, prefixOf(namespace));
  },
});
