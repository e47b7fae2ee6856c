import { signature } from '@machinery/core';
import {
  closeAdmin,
  deleteQueues,
  expectConnectionErrors,
  expectNoSecret,
  expectUnparsableUrlsRedacted,
  freePort,
  makeCertificates,
  type RecordingLogger,
  reconnectAttempts,
  recordingLogger,
  rejectionOf,
  SECRET,
  TlsProxy,
  trackResultQueues,
} from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { credentials } from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpBackend, type AmqpBackendOptions } from '../src/index.js';

// The password in a RabbitMQ URL must never reach a log line (at any level) or an error (message,
// stack, cause, or any field a logger would print): not when nothing listens, not when RabbitMQ
// refuses it, not when the connection is lost and retried, not when the URL is malformed.

const queues = new Set<string>();
const open: AmqpBackend[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
  await deleteQueues(queues);
  queues.clear();
});
afterAll(() => closeAdmin());

/** A backend that gives up on an operation after 1 s and retries connecting quickly. */
function make(options: AmqpBackendOptions): { backend: AmqpBackend; logger: RecordingLogger } {
  const logger = recordingLogger();
  const backend = new AmqpBackend({
    connectionName: `${uniqueNamespace('mtsecret')}-backend`,
    connectTimeoutMs: 1000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    ...options,
    logger,
  });
  open.push(backend);
  return { backend: trackResultQueues(backend, queues) as AmqpBackend, logger };
}

/** Runs every kind of operation at once and returns how each failed. */
function failures(backend: AmqpBackend): Promise<unknown[]> {
  const sig = signature('add', [1, 2], { headers: {} });
  const group = `group_${uniqueNamespace()}`;
  return Promise.all([
    rejectionOf(backend.setStatePending(sig)),
    rejectionOf(backend.setStateSuccess(sig, [])),
    rejectionOf(backend.getState(sig.uuid)),
    rejectionOf(backend.initGroup(group, [sig.uuid])),
    rejectionOf(backend.getGroupMeta(group)),
    rejectionOf(backend.groupCompleted(group, 1)),
    rejectionOf(backend.triggerChord(group)),
    rejectionOf(backend.purgeState(sig.uuid)),
  ]);
}

describe('AmqpBackend never shows the password of its URL', () => {
  it('when nothing listens, through the reconnect attempts', async () => {
    const { backend, logger } = make({ url: `amqp://guest:${SECRET}@127.0.0.1:${await freePort()}/` });
    const errors = await failures(backend);
    expectConnectionErrors(errors, /ECONNREFUSED/);
    await reconnectAttempts(logger, 3);
    for (const err of errors) expect((err as Error).message).toContain('amqp://guest:***@127.0.0.1:');
    expectNoSecret(errors, logger.lines);
  });

  it('when RabbitMQ refuses the password (ACCESS_REFUSED), through the reconnect attempts', async () => {
    const { backend, logger } = make({ url: `amqp://guest:${SECRET}@127.0.0.1:5672/` });
    const errors = await failures(backend);
    expectConnectionErrors(errors, /ACCESS.REFUSED/);
    await reconnectAttempts(logger, 3);
    expectNoSecret(errors, logger.lines);
  });

  it('when a working TLS connection is lost and cannot be restored', async () => {
    const certs = makeCertificates();
    const proxy = await new TlsProxy(certs).start();
    try {
      // The password of the URL is the secret; the login itself uses the credentials option.
      const { backend, logger } = make({
        url: proxy.url('guest', SECRET),
        clientOptions: { ca: certs.ca, credentials: credentials.plain('guest', 'guest') },
      });
      const sig = signature('add', [1, 2], { headers: {} });
      await backend.setStatePending(sig);
      await proxy.close();
      await eventually(() => expect(backend.isConnected).toBe(false));
      const errors = await failures(backend);
      expectConnectionErrors(errors, /./);
      await reconnectAttempts(logger, 3);
      expect(logger.lines.some((l) => /connection lost/.test(String(l.msg)))).toBe(true);
      expectNoSecret(errors, logger.lines);
    } finally {
      await proxy.close();
      certs.remove();
    }
  });

  it('when the URL cannot be parsed (Node would put the whole URL on its error)', () => {
    expectUnparsableUrlsRedacted(
      [
        `amqp://guest:${SECRET}@127.0.0.1:99999/`,
        `amqps://guest:${SECRET}/x@127.0.0.1:5671/`,
        `amqp://guest:${SECRET}@127.0.0.1:port/`,
        `http://guest:${SECRET}@127.0.0.1:5672/`,
      ],
      'guest:***@',
      (url) => make({ url }),
    );
  });
});
