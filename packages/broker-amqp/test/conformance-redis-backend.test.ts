// Until @machinery/backend-redis is a devDependency of this package, its build is imported by path.
import { RedisBackend } from '@machinery/backend-redis';
import { silentLogger } from '@machinery/core';
import { closeAdmin, ResultQueues, TcpProxy, trackResultQueues } from '@machinery/test-services';
import { scenarioSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, publishRaw, sweepNamespaces } from './support.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The broker reaches RabbitMQ through a TCP proxy, so "restarting the broker" cuts RabbitMQ only;
// Redis stays up, as when a RabbitMQ node restarts.
const proxy = new TcpProxy();
const proxyUrl = await proxy.start();
const results = new ResultQueues();

afterAll(async () => {
  await proxy.close();
  await sweepNamespaces();
  await closeAdmin();
});

const backend = (namespace: string) =>
  new RedisBackend({ url: REDIS_URL, prefix: `${namespace}:`, resultsExpireIn: 600, logger: silentLogger });

scenarioSuite({
  name: 'AmqpBroker + RedisBackend',
  create: ({ namespace }) => ({
    broker: new AmqpBroker(brokerOptions(namespace, { url: proxyUrl })),
    backend: trackResultQueues(backend(namespace), results.of(namespace)),
  }),
  injectRaw: (_ctx, queue, body) => publishRaw(queue, body),
  restartBroker: async () => {
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 500));
    proxy.resume();
  },
  cleanup: async ({ namespace }) => {
    await deleteNamespace(namespace);
    // The results are Redis keys under the namespace's prefix (they also expire after 600 s).
    const cleaner = backend(namespace);
    for (const name of results.of(namespace)) {
      if (name.startsWith('group_')) await cleaner.purgeGroupMeta(name);
      else await cleaner.purgeState(name);
    }
    await cleaner.close();
    results.forget(namespace);
  },
});
