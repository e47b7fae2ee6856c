import { dropSchema, POSTGRES_URL, rawPostgresPool, schemaOf } from '@machinery/test-services';
import { controlScenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { PostgresBroker } from '../src/index.js';

const raw = rawPostgresPool();
afterAll(() => raw.end());

// Revocation and pause on the PostgreSQL broker: tasks travel through it; results and the control
// plane stay in memory, one store per test shared by its servers as processes share a server.

controlScenarioSuite({
  name: 'PostgresBroker',
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new PostgresBroker({
      url: POSTGRES_URL,
      schema: schemaOf(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
  }),
  cleanup: async ({ namespace }) => {
    await dropSchema(raw, namespace);
  },
});
