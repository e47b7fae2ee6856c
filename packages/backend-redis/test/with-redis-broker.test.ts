import { RedisBroker } from '@machinery/broker-redis';
import { deleteKeys, prefixOf, usePrivateRedis } from '@machinery/test-services';
import { scenarioSuite } from '@machinery/testing';
import { describe } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

// The end-to-end scenarios with tasks, results and locks on one Redis — the pairing in which the
// backend acknowledges each task in the script call that stores its outcome. A redis-server of this
// file's own, so that the broker restart restarts the backend's server too.
describe('on a private redis-server', () => {
  const redis = usePrivateRedis();
  const url = () => redis.url;

  scenarioSuite({
    name: 'RedisBroker + RedisBackend + RedisLock',
    create: ({ namespace, redeliveryTimeoutMs }) => ({
      broker: new RedisBroker({ url: url(), prefix: prefixOf(namespace), leaseMs: redeliveryTimeoutMs }),
      backend: new RedisBackend({ url: url(), prefix: prefixOf(namespace) }),
      lock: new RedisLock({ url: url(), prefix: prefixOf(namespace) }),
    }),
    injectRaw: async ({ namespace }, queue, body) => {
      await redis.raw.rpush(prefixOf(namespace) + queue, body);
    },
    restartBroker: () => redis.restart(),
    cleanup: ({ namespace }) => deleteKeys(redis.raw, prefixOf(namespace)),
  });
});
