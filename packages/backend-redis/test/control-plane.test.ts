import { MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { controlPlaneSuite, PerNamespace } from '@machinery/testing';
import { afterAll } from 'vitest';
import { RedisBackend, RedisControlPlane } from '../src/index.js';

const shared = rawClient(REDIS_URL);
afterAll(() => shared.disconnect());

// Tasks travel through an in-memory broker (one store per test, shared by its servers); results and
// the control plane live in Redis, each instance on its own connections.
const brokers = new PerNamespace(() => new MemoryBrokerStore());

controlPlaneSuite({
  name: 'RedisControlPlane',
  create: ({ namespace }) => new RedisControlPlane({ url: REDIS_URL, prefix: prefixOf(namespace) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({ store: brokers.get(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: new RedisBackend({ url: REDIS_URL, prefix: prefixOf(namespace) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    await deleteKeys(shared, prefixOf(namespace));
  },
});
