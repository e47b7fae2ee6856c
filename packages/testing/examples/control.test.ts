// The control test of a broker package, as `test/control.test.ts`: revocation and pause proven on the
// broker through real Servers and Workers. The control plane is an in-memory one by default, and the
// results stay in memory too, so only the broker is under test. It runs here against core's memory
// broker; for your broker, change makeBroker (and cleanup) to reach your real server.
import { MemoryBackend, MemoryBackendStore, MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { type AdapterContext, controlScenarioSuite, PerNamespace } from '@machinery/testing';

// The servers of one test are processes of one deployment: they share queues and results.
const brokers = new PerNamespace(() => new MemoryBrokerStore());
const backends = new PerNamespace(() => new MemoryBackendStore());

function makeBroker({ namespace, redeliveryTimeoutMs }: AdapterContext): MemoryBroker {
  return new MemoryBroker({ store: brokers.get(namespace), leaseMs: redeliveryTimeoutMs });
}

function makeBackend({ namespace }: AdapterContext): MemoryBackend {
  return new MemoryBackend({ store: backends.get(namespace) });
}

controlScenarioSuite({
  name: 'MemoryBroker',
  adapters: (ctx) => ({ broker: makeBroker(ctx), backend: makeBackend(ctx) }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    backends.delete(namespace);
  },
});
