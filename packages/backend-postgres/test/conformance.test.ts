import { PostgresBroker } from '@machinery/broker-postgres';
import {
  dropAllPostgresConnections,
  dropSchema,
  injectRawTask,
  POSTGRES_URL,
  rawPostgresPool,
  schemaOf,
} from '@machinery/test-services';
import { backendSuite, scenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { PostgresBackend } from '../src/index.js';

const raw = rawPostgresPool();
afterAll(() => raw.end());

backendSuite({
  name: 'PostgresBackend',
  create: ({ namespace, resultsExpireIn }) =>
    new PostgresBackend({
      url: POSTGRES_URL,
      schema: schemaOf(namespace),
      ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
    }),
  cleanup: ({ namespace }) => dropSchema(raw, namespace),
});

// Only PostgreSQL: broker and backend in one database, as a user who runs nothing else would.
scenarioSuite({
  name: 'PostgresBroker + PostgresBackend',
  create: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new PostgresBroker({
      url: POSTGRES_URL,
      schema: schemaOf(namespace),
      leaseMs: redeliveryTimeoutMs,
    }),
    backend: new PostgresBackend({ url: POSTGRES_URL, schema: schemaOf(namespace) }),
  }),
  injectRaw: ({ namespace }, queue, body) =>
    injectRawTask(raw, namespace, queue, body, (pool, schema) => new PostgresBroker({ pool, schema })),
  restartBroker: () => dropAllPostgresConnections(raw),
  cleanup: ({ namespace }) => dropSchema(raw, namespace),
});
