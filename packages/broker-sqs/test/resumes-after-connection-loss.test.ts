import { defineTask, MemoryBackend, Server, silentLogger } from '@machinery/core';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsBroker } from '../src/index.js';
import { PrivateFauxqs } from './private-fauxqs.js';

let sqs: PrivateFauxqs;
beforeAll(async () => {
  // Persistent, so a task queued before the outage is still there after it (this test never gives a
  // message back with visibility 0, which persistent fauxqs mishandles).
  sqs = await PrivateFauxqs.start({ persistent: true });
});
afterAll(async () => {
  await sqs?.stop();
});

describe('SqsBroker across an SQS outage', () => {
  it('keeps consuming after the SQS endpoint goes away and comes back, and loses no queued task', async () => {
    const broker = new SqsBroker({
      endpoint: sqs.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      defaultQueue: `${uniqueNamespace()}_tasks`,
      visibilityTimeoutMs: 1000,
      // Receive errors during the outage are expected here.
      logger: silentLogger,
    });
    const server = new Server({ broker, backend: new MemoryBackend(), logger: silentLogger });
    try {
      const add = defineTask('add', (a: number, b: number) => a + b);
      server.register(add);
      await server.worker({ handleSignals: false }).start();
      expect(await (await server.send(add.signature(1, 1))).get({ timeoutMs: 10_000 })).toBe(2);
      // Queued before the outage, due after it.
      const queued = await server.send(add.signatureWith({ eta: new Date(Date.now() + 1500) }, 20, 22));
      await sqs.restart();
      const after = await eventually(() => server.send(add.signature(2, 3)), {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      expect(await after.get({ timeoutMs: 30_000 })).toBe(5);
      expect(await queued.get({ timeoutMs: 30_000 })).toBe(42);
    } finally {
      await server.close();
    }
  });
});
