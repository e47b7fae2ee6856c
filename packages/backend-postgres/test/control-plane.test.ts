import { MemoryBroker, MemoryBrokerStore } from '@machinery/core';
import { dropSchema, POSTGRES_URL, rawPostgresPool, schemaOf } from '@machinery/test-services';
import { controlPlaneSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { PostgresBackend, PostgresControlPlane } from '../src/index.js';

const raw = rawPostgresPool();
afterAll(() => raw.end());

// Tasks travel through an in-memory broker (one store per test, shared by its servers); results and
// the control plane live in PostgreSQL, each test in a schema of its own, each instance on its own pool.
const brokers = new Map<string, MemoryBrokerStore>();
const brokerStore = (namespace: string): MemoryBrokerStore => {
  let store = brokers.get(namespace);
  if (!store) {
    store = new MemoryBrokerStore();
    brokers.set(namespace, store);
  }
  return store;
};

controlPlaneSuite({
  name: 'PostgresControlPlane',
  create: ({ namespace }) => new PostgresControlPlane({ url: POSTGRES_URL, schema: schemaOf(namespace) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({ store: brokerStore(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: new PostgresBackend({ url: POSTGRES_URL, schema: schemaOf(namespace) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.get(namespace)?.dispose();
    brokers.delete(namespace);
    await dropSchema(raw, namespace);
  },
});
