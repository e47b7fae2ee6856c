import { isMachineryError } from '@machinery/core';
import { deleteKeys, PrivateCluster, prefixOf } from '@machinery/test-services';
import { backendSuite, lockSuite } from '@machinery/testing';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

// A Redis Cluster of three masters of this file's own. The backend's prefix carries a hash tag, so a
// group's metadata and its members' states share one slot (one MGET).

describe('on a Redis Cluster of three private nodes', () => {
  let cluster: PrivateCluster | undefined;
  let client: Cluster | undefined;
  const shared = () => client as Cluster;
  beforeAll(async () => {
    cluster = await PrivateCluster.start();
    client = new Cluster(cluster.startupNodes);
    client.on('error', () => {});
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  backendSuite({
    name: 'RedisBackend on Redis Cluster',
    create: ({ namespace, resultsExpireIn }) =>
      new RedisBackend({
        client: shared(),
        prefix: prefixOf(namespace),
        ...(resultsExpireIn !== undefined ? { resultsExpireIn } : {}),
      }),
    writeRaw: async ({ namespace }, uuid, json) => {
      await shared().set(prefixOf(namespace) + uuid, json, 'EX', 3600);
    },
    cleanup: ({ namespace }) => deleteKeys(shared(), prefixOf(namespace)),
  });

  lockSuite({
    name: 'RedisLock on Redis Cluster',
    create: () => new RedisLock({ client: shared() }),
    cleanup: ({ namespace }) => deleteKeys(shared(), `${namespace}:`),
  });

  it('refuses a Cluster client without a hash-tag prefix, saying why', () => {
    let caught: unknown;
    try {
      new RedisBackend({ client: shared() });
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toMatch(/hash tag/);
  });
});
