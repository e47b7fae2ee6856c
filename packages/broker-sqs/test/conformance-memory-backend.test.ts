import { MemoryBackend, MemoryBackendStore } from '@machinery/core';
import { scenarioSuite } from '@machinery/testing';
import { afterAll, beforeAll } from 'vitest';
import { PrivateFauxqs } from './private-fauxqs.js';
import { sqsTools } from './sqs.js';

// The scenarios prove the broker; core's MemoryBackend holds the results. The "processes" of one test
// share a store, as they would share a Redis or memcached.
const stores = new Map<string, MemoryBackendStore>();
function storeOf(namespace: string): MemoryBackendStore {
  let store = stores.get(namespace);
  if (!store) {
    store = new MemoryBackendStore();
    stores.set(namespace, store);
  }
  return store;
}

// The scenarios run on an SQS server of their own, so the broker-restart scenario can restart it
// without disturbing anyone else's tests on the shared one.
let sqs: PrivateFauxqs;
let tools: ReturnType<typeof sqsTools>;
beforeAll(async () => {
  sqs = await PrivateFauxqs.start();
  tools = sqsTools(sqs.endpoint);
});
afterAll(async () => {
  await sqs?.stop();
});

scenarioSuite({
  name: 'SqsBroker + MemoryBackend',
  create: (ctx) => ({
    broker: tools.makeBroker(ctx),
    backend: new MemoryBackend({ store: storeOf(ctx.namespace), resultsExpireIn: 600 }),
  }),
  injectRaw: (ctx, queue, body) => tools.injectRaw(ctx, queue, body),
  cleanup: async (ctx) => {
    stores.delete(ctx.namespace);
    await tools.cleanup(ctx);
  },
  restartBroker: () => sqs.restart(),
});
