import {
  defineTask,
  MemoryBackend,
  MemoryBackendStore,
  Server,
  signature,
  silentLogger,
} from '@machinery/core';
import {
  expectConnectionErrors,
  expectNoSecret,
  expectVerifiedTls,
  makeCertificates,
  prefixOf,
  recordingLogger,
  rejectionOf,
  SECRET,
  SecuredRedis,
  type TestCertificates,
} from '@machinery/test-services';
import { Closer, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';

// A redis-server of this file's own that speaks TLS only (`--port 0`), with a certificate made here
// by openssl for 127.0.0.1 and a password. Everything must verify the certificate against the CA
// it is given, and say clearly (without the password) when it cannot.

let certs: TestCertificates;
let redis: SecuredRedis;
const closer = new Closer();
beforeAll(async () => {
  certs = makeCertificates();
  redis = await SecuredRedis.start({ password: SECRET, certs });
});
afterEach(() => closer.closeAll());
afterAll(async () => {
  await redis?.stop();
  certs?.remove();
});

const add = defineTask('add', (a: number, b: number) => a + b);

describe('Redis over TLS (rediss://)', () => {
  it('RedisBroker connects with the CA in clientOptions.tls and verifies the certificate', async () => {
    const prefix = prefixOf(uniqueNamespace());
    const options = { url: redis.url(SECRET), prefix, clientOptions: { tls: { ca: certs.ca } } };
    const broker = closer.add(new RedisBroker({ ...options, logger: silentLogger }));
    const sig = signature('add', [1, 2], { headers: {} });
    await broker.publish(sig);
    expect((await broker.pendingTasks()).map((s) => s.uuid)).toEqual([sig.uuid]);
    expectVerifiedTls(broker.client, certs.ca);
  });

  it('a task round-trips through a Server and a Worker over TLS', async () => {
    const prefix = prefixOf(uniqueNamespace());
    const options = { url: redis.url(SECRET), prefix, clientOptions: { tls: { ca: certs.ca } } };
    const results = new MemoryBackendStore();
    const make = () => {
      const server = new Server({
        broker: new RedisBroker({ ...options, logger: silentLogger }),
        backend: new MemoryBackend({ store: results }),
        logger: silentLogger,
      });
      server.register(add);
      return closer.add(server);
    };
    const workerSide = make();
    const producer = make();
    await workerSide.worker({ concurrency: 2, handleSignals: false }).start();
    const result = await producer.send(add.signature(20, 22));
    expect(await result.get({ timeoutMs: 10_000 })).toBe(42);
  });

  it('without the CA the certificate is refused, with an ERR_CONNECTION that names TLS and not the password', async () => {
    const logger = recordingLogger();
    const options = {
      url: redis.url(SECRET),
      prefix: prefixOf(uniqueNamespace()),
      // Fail a command after one reconnect instead of ioredis's default 20.
      clientOptions: { maxRetriesPerRequest: 1 },
    };
    const broker = closer.add(new RedisBroker({ ...options, logger }));
    const sig = signature('add', [1, 2], { headers: {} });
    const errors = await Promise.all([
      rejectionOf(broker.publish(sig)),
      rejectionOf(broker.consume('tasks', () => {}, { concurrency: 1, prefetch: 0 })),
      rejectionOf(broker.pendingTasks()),
    ]);
    expectConnectionErrors(
      errors,
      /last connection error: .*certificate/,
      `rediss://:***@127.0.0.1:${redis.port}`,
      'clientOptions.tls.ca',
    );
    // The broker says so at once, at warn, without waiting for a command to give up.
    expect(
      logger.lines.some((l) => l.level === 'warn' && JSON.stringify(l.obj).includes('certificate')),
    ).toBe(true);
    expectNoSecret(errors, logger.lines);
  });
});
