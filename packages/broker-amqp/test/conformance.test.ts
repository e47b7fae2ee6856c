import { AmqpBackend } from '@machinery/backend-amqp';
import { silentLogger } from '@machinery/core';
import { closeAdmin, ResultQueues, TcpProxy, trackResultQueues } from '@machinery/test-services';
import { brokerSuite, scenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, publishRaw, sweepNamespaces } from './support.js';

// The scenarios reach RabbitMQ through a TCP proxy, so "restarting the broker" can cut every connection
// and refuse new ones for a moment without touching the shared RabbitMQ.
const proxy = new TcpProxy();
const proxyUrl = await proxy.start();
const results = new ResultQueues();

afterAll(async () => {
  await proxy.close();
  await sweepNamespaces();
  await closeAdmin();
});

brokerSuite({
  name: 'AmqpBroker',
  // maxPriority so that the suite's priority test runs.
  create: ({ namespace }) => new AmqpBroker(brokerOptions(namespace, { maxPriority: 10 })),
  injectRaw: (_ctx, queue, body) => publishRaw(queue, body),
  cleanup: ({ namespace }) => deleteNamespace(namespace),
});

// A quorum queue changes how RabbitMQ returns and counts messages (and takes no priority): the whole
// suite again on quorum task queues.
brokerSuite({
  name: 'AmqpBroker (quorum queues)',
  create: ({ namespace }) => new AmqpBroker(brokerOptions(namespace, { queueType: 'quorum' })),
  injectRaw: (_ctx, queue, body) => publishRaw(queue, body),
  cleanup: ({ namespace }) => deleteNamespace(namespace),
});

scenarioSuite({
  name: 'AmqpBroker + AmqpBackend',
  create: ({ namespace }) => ({
    broker: new AmqpBroker(brokerOptions(namespace, { url: proxyUrl })),
    backend: trackResultQueues(
      new AmqpBackend({ url: proxyUrl, connectionName: `${namespace}-backend`, logger: silentLogger }),
      results.of(namespace),
    ),
  }),
  injectRaw: (_ctx, queue, body) => publishRaw(queue, body),
  restartBroker: async () => {
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 500));
    proxy.resume();
  },
  cleanup: async ({ namespace }) => {
    await deleteNamespace(namespace);
    await results.delete(namespace);
  },
});
