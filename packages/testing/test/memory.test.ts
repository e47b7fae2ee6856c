import {
  MemoryBackend,
  MemoryBackendStore,
  MemoryBroker,
  MemoryBrokerStore,
  MemoryLock,
  MemoryLockStore,
} from '@machinery/core';
import { backendSuite, brokerSuite, lockSuite, scenarioSuite } from '../src/index.js';

// One in-process "server" per test namespace, so two adapters made in one test share queues and keys
// exactly as two connections to Redis would.
const brokers = new Map<string, MemoryBrokerStore>();
const backends = new Map<string, MemoryBackendStore>();
const locks = new Map<string, MemoryLockStore>();

function shared<T>(map: Map<string, T>, ns: string, make: () => T): T {
  let v = map.get(ns);
  if (!v) {
    v = make();
    map.set(ns, v);
  }
  return v;
}

const brokerStore = (ns: string) => shared(brokers, ns, () => new MemoryBrokerStore());
const cleanup = async ({ namespace }: { namespace: string }) => {
  brokers.get(namespace)?.dispose();
  brokers.delete(namespace);
  backends.delete(namespace);
  locks.delete(namespace);
};
const injectRaw = async ({ namespace }: { namespace: string }, queue: string, body: string) => {
  brokerStore(namespace).injectRaw(queue, body);
};

brokerSuite({
  name: 'MemoryBroker',
  create: ({ namespace, redeliveryTimeoutMs }) =>
    new MemoryBroker({ store: brokerStore(namespace), leaseMs: redeliveryTimeoutMs }),
  injectRaw,
  cleanup,
});

backendSuite({
  name: 'MemoryBackend',
  create: ({ namespace, resultsExpireIn }) =>
    new MemoryBackend({
      store: shared(backends, namespace, () => new MemoryBackendStore()),
      ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
    }),
  cleanup,
});

lockSuite({
  name: 'MemoryLock',
  create: ({ namespace }) => new MemoryLock({ store: shared(locks, namespace, () => new MemoryLockStore()) }),
  cleanup,
});

scenarioSuite({
  name: 'MemoryBroker + MemoryBackend',
  create: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({ store: brokerStore(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: new MemoryBackend({ store: shared(backends, namespace, () => new MemoryBackendStore()) }),
    lock: new MemoryLock({ store: shared(locks, namespace, () => new MemoryLockStore()) }),
  }),
  injectRaw,
  cleanup,
});
