import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { backendSuite, lockSuite } from '@machinery/testing';
import { afterAll } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

const shared = rawClient(REDIS_URL);
afterAll(() => shared.disconnect());

backendSuite({
  name: 'RedisBackend',
  create: ({ namespace, resultsExpireIn }) =>
    new RedisBackend({
      url: REDIS_URL,
      prefix: prefixOf(namespace),
      ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
    }),
  // What a Go Machinery worker does: SET … EX, and no message.
  writeRaw: async ({ namespace }, uuid, json) => {
    await shared.set(prefixOf(namespace) + uuid, json, 'EX', 3600);
  },
  cleanup: ({ namespace }) => deleteKeys(shared, prefixOf(namespace)),
});

// The lock suite names its keys `<namespace>:…` itself.
lockSuite({
  name: 'RedisLock',
  create: () => new RedisLock({ url: REDIS_URL }),
  cleanup: ({ namespace }) => deleteKeys(shared, `${namespace}:`),
});
