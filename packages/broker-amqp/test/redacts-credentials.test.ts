import { signature } from '@machinery/core';
import {
  closeAdmin,
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
} from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { credentials } from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpBroker, type AmqpBrokerOptions } from '../src/index.js';
import { brokerOptions, deleteNamespace, sweepNamespaces } from './support.js';

// The password in a RabbitMQ URL must never reach a log line (at any level) or an error (message,
// stack, cause, or any field a logger would print): not when nothing listens, not when RabbitMQ
// refuses it, not when a consuming connection is lost and retried, not when the URL is malformed.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await sweepNamespaces();
  await closeAdmin();
});

/** A broker that gives up on an operation after 1 s and retries connecting quickly. */
function make(extra: AmqpBrokerOptions): { broker: AmqpBroker; logger: RecordingLogger } {
  const logger = recordingLogger();
  const ns = uniqueNamespace('mtsecret');
  const broker = new AmqpBroker(
    brokerOptions(ns, {
      connectTimeoutMs: 1000,
      publishTimeoutMs: 1000,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
      ...extra,
      logger,
    }),
  );
  cleanups.push(async () => {
    await broker.close();
    await deleteNamespace(ns);
  });
  return { broker, logger };
}

/** Runs every kind of operation at once and returns how each failed. */
function failures(broker: AmqpBroker): Promise<unknown[]> {
  const sig = signature('add', [1, 2], { headers: {} });
  const later = signature('add', [3, 4], { headers: {}, eta: new Date(Date.now() + 60_000) });
  return Promise.all([
    rejectionOf(broker.publish(sig)),
    rejectionOf(broker.publish(later)),
    rejectionOf(broker.publishMany([sig, later])),
    rejectionOf(broker.consume('tasks', () => {}, { concurrency: 1, prefetch: 0 })),
    rejectionOf(broker.pendingTasks()),
    rejectionOf(broker.delayedTasks()),
    rejectionOf(broker.deadLetters()),
    rejectionOf(broker.requeueDeadLetters()),
  ]);
}

describe('AmqpBroker never shows the password of its URL', () => {
  it('when nothing listens, through the reconnect attempts', async () => {
    const { broker, logger } = make({ url: `amqp://guest:${SECRET}@127.0.0.1:${await freePort()}/` });
    const errors = await failures(broker);
    expectConnectionErrors(errors, /ECONNREFUSED/);
    await reconnectAttempts(logger, 3);
    for (const err of errors) expect((err as Error).message).toContain('amqp://guest:***@127.0.0.1:');
    expectNoSecret(errors, logger.lines);
  });

  it('when RabbitMQ refuses the password (ACCESS_REFUSED), through the reconnect attempts', async () => {
    const { broker, logger } = make({ url: `amqp://guest:${SECRET}@127.0.0.1:5672/` });
    const errors = await failures(broker);
    expectConnectionErrors(errors, /ACCESS.REFUSED/);
    await reconnectAttempts(logger, 3);
    expectNoSecret(errors, logger.lines);
  });

  it('when the connection of a running consumer is lost and cannot be restored', async () => {
    const certs = makeCertificates();
    const proxy = await new TlsProxy(certs).start();
    cleanups.push(async () => {
      await proxy.close();
      certs.remove();
    });
    // The password of the URL is the secret; the login itself uses the credentials option.
    const { broker, logger } = make({
      url: proxy.url('guest', SECRET),
      clientOptions: { ca: certs.ca, credentials: credentials.plain('guest', 'guest') },
    });
    const consumer = await broker.consume(broker.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 });
    cleanups.push(() => consumer.stop());
    await broker.publish(signature('add', [1, 2], { headers: {} }));
    await proxy.close();
    await eventually(() => expect(broker.isConnected).toBe(false));
    const errors = await failures(broker);
    expectConnectionErrors(errors, /./);
    await reconnectAttempts(logger, 3);
    expect(logger.lines.some((l) => /connection lost/.test(String(l.msg)))).toBe(true);
    expectNoSecret(errors, logger.lines);
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
