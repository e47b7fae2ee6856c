import { MemoryBackend, MemoryBackendStore, MemoryLock, MemoryLockStore } from '@machinery/core';
import { backendSuite, lockSuite } from '../src/index.js';

// The memory broker runs brokerSuite and scenarioSuite in examples/conformance.test.ts, the example
// the README and the adapter guide show. Here: the backend and the lock.

// One in-process "server" per test namespace, so two adapters made in one test share keys exactly as
// two connections to Redis would.
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

const cleanup = async ({ namespace }: { namespace: string }) => {
  backends.delete(namespace);
  locks.delete(namespace);
};

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
