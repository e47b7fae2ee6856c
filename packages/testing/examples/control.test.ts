// The control test of a broker package, as `test/control.test.ts`: revocation and pause proven on the
// broker through real Servers and Workers. The control plane is an in-memory one by default, and the
// results stay in memory too, so only the broker is under test. It runs here against core's memory
// broker; for your broker, change makeBroker (and cleanup) to reach your real server.
import { MemoryBackend, MemoryBackendStore, MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { type AdapterContext, controlScenarioSuite } from '@machinery/testing';

// The servers of one test are processes of one deployment: they share queues and results.
const brokers = new Map<string, MemoryBrokerStore>();
const backends = new Map<string, MemoryBackendStore>();

function makeBroker({ namespace, redeliveryTimeoutMs }: AdapterContext): MemoryBroker {
  const store = brokers.get(namespace) ?? new MemoryBrokerStore();
  brokers.set(namespace, store);
  return new MemoryBroker({ store, leaseMs: redeliveryTimeoutMs });
}

function makeBackend({ namespace }: AdapterContext): MemoryBackend {
  const store = backends.get(namespace) ?? new MemoryBackendStore();
  backends.set(namespace, store);
  return new MemoryBackend({ store });
}

controlScenarioSuite({
  name: 'MemoryBroker',
  adapters: (ctx) => ({ broker: makeBroker(ctx), backend: makeBackend(ctx) }),
  cleanup: async ({ namespace }) => {
    brokers.get(namespace)?.dispose();
    brokers.delete(namespace);
    backends.delete(namespace);
  },
});
