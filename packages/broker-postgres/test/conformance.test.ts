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
import { brokerSuite, PerNamespace, scenarioSuite } from '@machinery/testing';
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
const backends = new PerNamespace(() => new MemoryBackendStore());
const locks = new PerNamespace(() => new MemoryLockStore());

scenarioSuite({
  name: 'PostgresBroker + MemoryBackend',
  create: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new PostgresBroker({
      url: POSTGRES_URL,
      schema: schemaOf(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new MemoryBackend({ store: backends.get(namespace) }),
    lock: new MemoryLock({ store: locks.get(namespace) }),
  }),
  injectRaw: ({ namespace }, queue, body) => injectRawTask(raw, namespace, queue, body, taskTable),
  restartBroker: () => dropAllPostgresConnections(raw),
  cleanup: async ({ namespace }) => {
    backends.delete(namespace);
    locks.delete(namespace);
    await dropSchema(raw, namespace);
  },
});
