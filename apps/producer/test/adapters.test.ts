import { Server } from '@machinery/core';
import { describe, expect, it } from 'vitest';
import { add, createAdapters, createBroker } from '../src/index.js';

// The sample apps' URL factory against the real services: every scheme composes a working Server.
const combos: [string, string][] = [
  ['memory://', 'memory://'],
  ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
  ['amqp://guest:guest@127.0.0.1:5672', 'amqp://guest:guest@127.0.0.1:5672'],
  ['sqs://test:test@127.0.0.1:4566?region=us-east-1', 'memcache://127.0.0.1:11211'],
  ['sqs://test:test@127.0.0.1:4566?region=us-east-1', 'redis://127.0.0.1:6379'],
];

describe('sample apps: adapters from URLs', () => {
  for (const [broker, backend] of combos) {
    it(`runs a task with broker ${broker.replace(/\/\/[^@]*@/, '//')} and backend ${backend}`, async () => {
      const server = new Server(await createAdapters({ broker, backend, lock: 'memory://' }));
      try {
        server.register(add);
        const queue = `apps_${Math.random().toString(36).slice(2, 10)}`;
        await server.worker({ queue, handleSignals: false }).start();
        const result = await server.send(add.signatureWith({ routingKey: queue }, 20, 22));
        expect(await result.get({ timeoutMs: 20_000 })).toBe(42);
      } finally {
        await server.close();
      }
    }, 30_000);
  }

  it('refuses an unknown scheme with a message that names the supported ones and hides the password', async () => {
    await expect(createBroker('kafka://user:secret@host:9092')).rejects.toThrow(
      /Unsupported broker URL kafka:\/\/user:\*\*\*@host:9092: use memory:\/\/, redis:\/\//,
    );
  });
});
