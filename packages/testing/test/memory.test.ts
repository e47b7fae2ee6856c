import { MemoryBackend, MemoryBackendStore, MemoryLock, MemoryLockStore } from '@machinery/core';
import { backendSuite, lockSuite, PerNamespace } from '../src/index.js';

// The memory broker runs brokerSuite and scenarioSuite in examples/conformance.test.ts, the example
// the README and the adapter guide show. Here: the backend and the lock.

// One in-process "server" per test namespace, so two adapters made in one test share keys exactly as
// two connections to Redis would.
const backends = new PerNamespace(() => new MemoryBackendStore());
const locks = new PerNamespace(() => new MemoryLockStore());

const cleanup = async ({ namespace }: { namespace: string }) => {
  backends.delete(namespace);
  locks.delete(namespace);
};

backendSuite({
  name: 'MemoryBackend',
  create: ({ namespace, resultsExpireIn }) =>
    new MemoryBackend({
      store: backends.get(namespace),
      ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
    }),
  cleanup,
});

lockSuite({
  name: 'MemoryLock',
  create: ({ namespace }) => new MemoryLock({ store: locks.get(namespace) }),
  cleanup,
});
