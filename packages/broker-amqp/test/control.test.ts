import { AmqpBackend } from '@machinery/backend-amqp';
import { silentLogger } from '@machinery/core';
import { closeAdmin, ResultQueues, trackResultQueues } from '@machinery/test-services';
import { controlScenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, sweepNamespaces } from './support.js';

afterAll(async () => {
  await sweepNamespaces();
  await closeAdmin();
});

// Revocation and pause on RabbitMQ: tasks travel through it; results and the control plane stay in
// memory, one store per test shared by its servers as processes share a server.

controlScenarioSuite({
  name: 'AmqpBroker',
  adapters: ({ namespace }) => ({
    broker: new AmqpBroker(brokerOptions(namespace)),
  }),
  cleanup: async ({ namespace }) => {
    await deleteNamespace(namespace);
  },
});

// The all-RabbitMQ setup: results in Go's result queues too.
const results = new ResultQueues();
controlScenarioSuite({
  name: 'AmqpBroker + AmqpBackend',
  adapters: ({ namespace }) => ({
    broker: new AmqpBroker(brokerOptions(namespace)),
    backend: trackResultQueues(
      new AmqpBackend({ connectionName: `${namespace}-backend`, logger: silentLogger }),
      results.of(namespace),
    ),
  }),
  cleanup: async ({ namespace }) => {
    await deleteNamespace(namespace);
    await results.delete(namespace);
  },
});
