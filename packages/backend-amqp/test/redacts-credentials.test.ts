import { once } from 'node:events';
import { createServer } from 'node:net';
import { isMachineryError, signature } from '@machinery/core';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { credentials } from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpBackend, type AmqpBackendOptions } from '../src/index.js';
import { makeCertificates } from './certificates.js';
import { expectNoSecret, type RecordingLogger, recordingLogger, rejectionOf, SECRET } from './secrets.js';
import { closeAdmin, deleteQueues, tracked } from './support.js';
import { TlsProxy } from './tls-proxy.js';

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

/** A port nobody listens on right now. */
async function deadPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  return typeof address === 'object' && address ? address.port : 0;
}

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
  return { backend: tracked(backend, queues) as AmqpBackend, logger };
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

function expectConnectionErrors(errors: unknown[], detail: RegExp): void {
  for (const err of errors) {
    expect(isMachineryError(err, 'ERR_CONNECTION'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(detail);
  }
}

/** At least `n` reconnect attempts were logged. */
async function reconnectAttempts(logger: RecordingLogger, n: number): Promise<void> {
  await eventually(
    () => expect(logger.lines.filter((l) => /retrying/.test(String(l.msg))).length).toBeGreaterThanOrEqual(n),
    { timeoutMs: 10_000 },
  );
}

describe('AmqpBackend never shows the password of its URL', () => {
  it('when nothing listens, through the reconnect attempts', async () => {
    const { backend, logger } = make({ url: `amqp://guest:${SECRET}@127.0.0.1:${await deadPort()}/` });
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
    for (const url of [
      `amqp://guest:${SECRET}@127.0.0.1:99999/`,
      `amqps://guest:${SECRET}/x@127.0.0.1:5671/`,
      `amqp://guest:${SECRET}@127.0.0.1:port/`,
      `http://guest:${SECRET}@127.0.0.1:5672/`,
    ]) {
      let error: unknown;
      try {
        make({ url });
      } catch (err) {
        error = err;
      }
      expect(isMachineryError(error, 'ERR_INVALID_ARGUMENT'), String(error)).toBe(true);
      expect((error as Error).message).toContain('guest:***@');
      expectNoSecret(error);
    }
  });
});
