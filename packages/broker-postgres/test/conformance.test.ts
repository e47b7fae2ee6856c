import { MemoryBackend, MemoryBackendStore, MemoryLock, MemoryLockStore } from '@machinery/core';
import { brokerSuite, scenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { PostgresBroker } from '../src/index.js';
import { dropAllConnections, dropSchema, injectRaw, POSTGRES_URL, rawPool, schemaOf } from './helpers.js';

const raw = rawPool();
afterAll(() => raw.end());

brokerSuite({
  name: 'PostgresBroker',
  create: ({ namespace, redeliveryTimeoutMs }) =>
    new PostgresBroker({ url: POSTGRES_URL, schema: schemaOf(namespace), leaseMs: redeliveryTimeoutMs }),
  injectRaw: ({ namespace }, queue, body) => injectRaw(raw, namespace, queue, body),
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
  injectRaw: ({ namespace }, queue, body) => injectRaw(raw, namespace, queue, body),
  restartBroker: () => dropAllConnections(raw),
  cleanup: async ({ namespace }) => {
    backends.delete(namespace);
    locks.delete(namespace);
    await dropSchema(raw, namespace);
  },
});
