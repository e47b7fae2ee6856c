import { MemoryBackend, MemoryBackendStore, MemoryLock, MemoryLockStore } from '@machinery/core';
import {
  dropAllPostgresConnections,
  dropSchema,
  injectRawTask,
  POSTGRES_URL,
  rawPostgresPool,
  schemaOf,
  type TaskTableOwner,
} from '@machinery/test-services';
import { brokerSuite, scenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { PostgresBroker } from '../src/index.js';

const raw = rawPostgresPool();
afterAll(() => raw.end());
const taskTable: TaskTableOwner = (pool, schema) => new PostgresBroker({ pool, schema });

brokerSuite({
  name: 'PostgresBroker',
  create: ({ namespace, redeliveryTimeoutMs }) =>
    new PostgresBroker({ url: POSTGRES_URL, schema: schemaOf(namespace), leaseMs: redeliveryTimeoutMs }),
  injectRaw: ({ namespace }, queue, body) => injectRawTask(raw, namespace, queue, body, taskTable),
  cleanup: ({ namespace }) => dropSchema(raw, namespace),
});

// The workers of one scenario share a backend and a lock, as processes would share a server.
const backends = new Map<string, MemoryBackendStore>();
const locks = new Map<string, MemoryLockStore>();
function shared<T>(map: Map<string, T>, ns: string, make: () => T): T {
  const found = map.get(ns);
  if (found) return found;
  const made = make();
  map.set(ns, made);
  return made;
}

scenarioSuite({
  name: 'PostgresBroker + MemoryBackend',
  create: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new PostgresBroker({
      url: POSTGRES_URL,
      schema: schemaOf(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: shared(backends, namespace, () => new MemoryBackendStore()) }),
    lock: new MemoryLock({ store: shared(locks, namespace, () => new MemoryLockStore()) }),
  }),
  injectRaw: ({ namespace }, queue, body) => injectRawTask(raw, namespace, queue, body, taskTable),
  restartBroker: () => dropAllPostgresConnections(raw),
  cleanup: async ({ namespace }) => {
    backends.delete(namespace);
    locks.delete(namespace);
    await dropSchema(raw, namespace);
  },
});
