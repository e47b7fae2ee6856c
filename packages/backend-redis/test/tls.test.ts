import { signature, TaskStatus, toResult } from '@machinery/core';
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
import { RedisBackend, RedisLock } from '../src/index.js';

// A redis-server of this file's own that speaks TLS only, with a certificate made here by openssl
// for 127.0.0.1 and a password: the backend and the lock must verify the certificate against the
// CA they are given, and must say clearly (without the password) when they cannot.

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

describe('RedisBackend and RedisLock over TLS (rediss://)', () => {
  it('connect with the CA in clientOptions.tls and verify the server certificate', async () => {
    const prefix = prefixOf(uniqueNamespace());
    const options = { url: redis.url(SECRET), prefix, clientOptions: { tls: { ca: certs.ca } } };
    const backend = closer.add(new RedisBackend(options));
    const lock = closer.add(new RedisLock(options));
    const sig = signature('add', [1, 2], { headers: {} });
    await backend.setStatePending(sig);
    expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.PENDING);
    expect(await lock.acquire('periodic', 10_000)).toBe(true);
    expect(await lock.acquire('periodic', 10_000)).toBe(false);
    await lock.release('periodic');
    expectVerifiedTls(backend.client, certs.ca);
    expectVerifiedTls(lock.client, certs.ca);
  });

  it('push results over TLS too: the subscriber connection inherits the TLS options', async () => {
    const prefix = prefixOf(uniqueNamespace());
    const options = { url: redis.url(SECRET), prefix, clientOptions: { tls: { ca: certs.ca } } };
    const waiter = closer.add(new RedisBackend(options));
    const writer = closer.add(new RedisBackend(options));
    const sig = signature('add', [1, 2], { headers: {} });
    await writer.setStatePending(sig);
    const waiting = waiter.waitForState(sig.uuid, new AbortController().signal);
    await writer.setStateSuccess(sig, [toResult(3)]);
    expect((await waiting).state).toBe(TaskStatus.SUCCESS);
  });

  it('without the CA the certificate is refused, with an ERR_CONNECTION that names TLS and not the password', async () => {
    const logger = recordingLogger();
    const options = {
      url: redis.url(SECRET),
      prefix: prefixOf(uniqueNamespace()),
      // Fail the command after one reconnect instead of ioredis's default 20.
      clientOptions: { maxRetriesPerRequest: 1 },
    };
    const backend = closer.add(new RedisBackend({ ...options, logger }));
    const lock = closer.add(new RedisLock(options));
    const errors = [
      await rejectionOf(backend.getState('task_x')),
      await rejectionOf(backend.setStatePending(signature('add', [], { headers: {} }))),
      await rejectionOf(lock.acquire('periodic', 1000)),
    ];
    expectConnectionErrors(
      errors,
      /last connection error: .*certificate/,
      `rediss://:***@127.0.0.1:${redis.port}`,
      'clientOptions.tls.ca',
    );
    expect(logger.lines.some((l) => JSON.stringify(l.obj).includes('certificate'))).toBe(true);
    expectNoSecret(errors, logger.lines);
  });
});
