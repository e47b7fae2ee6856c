import {
  MemoryBackend,
  MemoryBackendStore,
  MemoryBroker,
  MemoryBrokerStore,
  MemoryFlowControl,
  MemoryFlowControlStore,
} from '@machinery/core';
import { flowControlSuite } from '../src/index.js';

// One in-process "server" per test namespace, so two instances made in one test share state as two
// connections to Redis would.
const flows = new Map<string, MemoryFlowControlStore>();
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

flowControlSuite({
  name: 'MemoryFlowControl',
  create: ({ namespace }) =>
    new MemoryFlowControl({ store: shared(flows, namespace, () => new MemoryFlowControlStore()) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({
      store: shared(brokers, namespace, () => new MemoryBrokerStore()),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: shared(backends, namespace, () => new MemoryBackendStore()) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.get(namespace)?.dispose();
    for (const map of [flows, brokers, backends]) map.delete(namespace);
  },
});
