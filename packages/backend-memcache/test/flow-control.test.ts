import { MemoryBackend, MemoryBackendStore, MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { flowControlSuite } from '@machinery/testing';
import { MemcacheFlowControl } from '../src/index.js';
import { MEMCACHE_SERVERS } from './memcache.js';

// Tasks and results stay in memory (one store per test, shared by its servers): what is proven here is
// the claim on memcached.
const brokers = new Map<string, MemoryBrokerStore>();
const backends = new Map<string, MemoryBackendStore>();
function shared<T>(map: Map<string, T>, ns: string, make: () => T): T {
  let v = map.get(ns);
  if (!v) {
    v = make();
    map.set(ns, v);
  }
  return v;
}

// Only the unique store exists on memcached; the suite skips the rate and concurrency tests, saying so.
// Claims expire on their own (memcached cannot list keys to delete them).
flowControlSuite({
  name: 'MemcacheFlowControl',
  create: ({ namespace }) => new MemcacheFlowControl({ servers: MEMCACHE_SERVERS, prefix: `${namespace}:` }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({
      store: shared(brokers, namespace, () => new MemoryBrokerStore()),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: shared(backends, namespace, () => new MemoryBackendStore()) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.get(namespace)?.dispose();
    brokers.delete(namespace);
    backends.delete(namespace);
  },
});
