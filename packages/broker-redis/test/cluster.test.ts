import { defineTask, isMachineryError, MemoryBackend, Server, silentLogger } from '@machinery/core';
import { deleteKeys, PrivateCluster, prefixOf } from '@machinery/test-services';
import { brokerGroups, brokerSuite, uniqueNamespace } from '@machinery/testing';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';

// A Redis Cluster of three masters of this file's own. Every key of a broker carries the prefix's
// hash tag, so its scripts (claim, settle, mover) touch one slot.

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

  brokerSuite({
    name: 'RedisBroker on Redis Cluster',
    create: ({ namespace, redeliveryTimeoutMs }) =>
      new RedisBroker({ client: shared(), prefix: prefixOf(namespace), leaseMs: redeliveryTimeoutMs }),
    injectRaw: async ({ namespace }, queue, body) => {
      await shared().rpush(prefixOf(namespace) + queue, body);
    },
    cleanup: ({ namespace }) => deleteKeys(shared(), prefixOf(namespace)),
  });

  // Priority lists share the prefix's slot. On a Cluster an idle consumer's wait is not ended by a
  // ring (no CLIENT UNBLOCK across nodes): a short blocking wait bounds how long a priority task waits.
  brokerGroups.priorities({
    name: 'RedisBroker on Redis Cluster (maxPriority 9)',
    create: ({ namespace, redeliveryTimeoutMs }) =>
      new RedisBroker({
        client: shared(),
        prefix: prefixOf(namespace),
        leaseMs: redeliveryTimeoutMs,
        maxPriority: 9,
        blockTimeoutMs: 1000,
      }),
    cleanup: ({ namespace }) => deleteKeys(shared(), prefixOf(namespace)),
  });

  it('runs tasks end to end through the Cluster', async () => {
    const prefix = prefixOf(uniqueNamespace());
    const server = new Server({
      broker: new RedisBroker({ client: shared(), prefix, logger: silentLogger }),
      backend: new MemoryBackend(),
      logger: silentLogger,
    });
    try {
      const add = defineTask('add', (a: number, b: number) => a + b);
      server.register(add);
      await server.worker({ concurrency: 4, handleSignals: false }).start();
      expect(await (await server.send(add.signature(2, 3))).get({ timeoutMs: 10_000 })).toBe(5);
      const eta = new Date(Date.now() + 200);
      expect(await (await server.send(add.signatureWith({ eta }, 1, 1))).get({ timeoutMs: 10_000 })).toBe(2);
    } finally {
      await server.close();
      await deleteKeys(shared(), prefix);
    }
  });

  it('refuses a Cluster client without a hash-tag prefix, saying why', () => {
    let caught: unknown;
    try {
      new RedisBroker({ client: shared() });
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toMatch(/hash tag/);
  });
});
