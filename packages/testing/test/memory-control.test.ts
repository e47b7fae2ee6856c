import {
  MemoryBackend,
  MemoryBackendStore,
  MemoryBroker,
  MemoryBrokerStore,
  MemoryControlPlane,
  MemoryControlPlaneStore,
} from '@machinery/core';
import { controlPlaneSuite, PerNamespace } from '../src/index.js';

// One in-process "server" per test namespace, so two instances made in one test share state as two
// connections to Redis would.
const planes = new PerNamespace(() => new MemoryControlPlaneStore());
const brokers = new PerNamespace(() => new MemoryBrokerStore());
const backends = new PerNamespace(() => new MemoryBackendStore());

controlPlaneSuite({
  name: 'MemoryControlPlane',
  create: ({ namespace }) => new MemoryControlPlane({ store: planes.get(namespace) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({
      store: brokers.get(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: backends.get(namespace) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    planes.delete(namespace);
    backends.delete(namespace);
  },
});
