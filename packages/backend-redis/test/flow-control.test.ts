import { RedisBroker } from '@machinery/broker-redis';
import { MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { flowControlSuite, PerNamespace } from '@machinery/testing';
import { afterAll } from 'vitest';
import { RedisBackend, RedisFlowControl } from '../src/index.js';

const shared = rawClient(REDIS_URL);
afterAll(() => shared.disconnect());

// Tasks travel through an in-memory broker (one store per test, shared by its servers); results and
// the flow stores live in Redis, each instance on its own connection.
const brokers = new PerNamespace(() => new MemoryBrokerStore());

flowControlSuite({
  name: 'RedisFlowControl',
  create: ({ namespace }) => new RedisFlowControl({ url: REDIS_URL, prefix: prefixOf(namespace) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({ store: brokers.get(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: new RedisBackend({ url: REDIS_URL, prefix: prefixOf(namespace) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    await deleteKeys(shared, prefixOf(namespace));
  },
});

// The same scenarios with tasks on the Redis broker: hand-backs wait in its delayed set.
flowControlSuite({
  name: 'RedisFlowControl + RedisBroker',
  create: ({ namespace }) => new RedisFlowControl({ url: REDIS_URL, prefix: prefixOf(namespace) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new RedisBroker({ url: REDIS_URL, prefix: prefixOf(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: new RedisBackend({ url: REDIS_URL, prefix: prefixOf(namespace) }),
  }),
  cleanup: ({ namespace }) => deleteKeys(shared, prefixOf(namespace)),
});
