import { MemoryBackend, MemoryBackendStore, MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { flowControlSuite, PerNamespace } from '@machinery/testing';
import { MemcacheFlowControl } from '../src/index.js';
import { MEMCACHE_SERVERS } from './memcache.js';

// Tasks and results stay in memory (one store per test, shared by its servers): what is proven here is
// the claim on memcached.
const brokers = new PerNamespace(() => new MemoryBrokerStore());
const backends = new PerNamespace(() => new MemoryBackendStore());
// Only the unique store exists on memcached; the suite skips the rate and concurrency tests, saying so.
// Claims expire on their own (memcached cannot list keys to delete them).
flowControlSuite({
  name: 'MemcacheFlowControl',
  create: ({ namespace }) => new MemcacheFlowControl({ servers: MEMCACHE_SERVERS, prefix: `${namespace}:` }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({
      store: brokers.get(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: backends.get(namespace) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    backends.delete(namespace);
  },
});
