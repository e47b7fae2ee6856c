import { MemoryBackend, MemoryBackendStore } from '@machinery/core';
import { controlScenarioSuite } from '@machinery/testing';
import { cleanup, makeBroker } from './sqs.js';

// Revocation and pause on SQS: tasks travel through it; results and the control plane stay in memory,
// one store per test shared by its servers as processes share a server.
const backends = new Map<string, MemoryBackendStore>();
function backendStore(namespace: string): MemoryBackendStore {
  let store = backends.get(namespace);
  if (!store) {
    store = new MemoryBackendStore();
    backends.set(namespace, store);
  }
  return store;
}

controlScenarioSuite({
  name: 'SqsBroker',
  adapters: (ctx) => ({
    broker: makeBroker(ctx),
    backend: new MemoryBackend({ store: backendStore(ctx.namespace) }),
  }),
  cleanup: async (ctx) => {
    backends.delete(ctx.namespace);
    await cleanup(ctx);
  },
});
