import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { controlScenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { RedisBroker } from '../src/index.js';

const shared = rawClient(REDIS_URL);
afterAll(() => shared.disconnect());

// Revocation and pause on the Redis broker: tasks travel through Redis; results and the control plane
// stay in memory (the suite's defaults), one store per test shared by its servers as processes share a server.

controlScenarioSuite({
  name: 'RedisBroker',
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new RedisBroker({ url: REDIS_URL, prefix: prefixOf(namespace), leaseMs: redeliveryTimeoutMs }),
  }),
  cleanup: async ({ namespace }) => {
    await deleteKeys(shared, prefixOf(namespace));
  },
});
