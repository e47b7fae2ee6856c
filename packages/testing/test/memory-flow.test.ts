import {
  MemoryBackend,
  MemoryBackendStore,
  MemoryBroker,
  MemoryBrokerStore,
  MemoryFlowControl,
  MemoryFlowControlStore,
} from '@machinery/core';
import { flowControlSuite, PerNamespace } from '../src/index.js';

// One in-process "server" per test namespace, so two instances made in one test share state as two
// connections to Redis would.
const flows = new PerNamespace(() => new MemoryFlowControlStore());
const brokers = new PerNamespace(() => new MemoryBrokerStore());
const backends = new PerNamespace(() => new MemoryBackendStore());

flowControlSuite({
  name: 'MemoryFlowControl',
  create: ({ namespace }) => new MemoryFlowControl({ store: flows.get(namespace) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({
      store: brokers.get(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: backends.get(namespace) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    flows.delete(namespace);
    backends.delete(namespace);
  },
});
