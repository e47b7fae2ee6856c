import { signature, silentLogger, TaskStatus } from '@machinery/core';
import {
  closeAdmin,
  deleteQueues,
  expectConnectionErrors,
  expectNoSecret,
  makeCertificates,
  recordingLogger,
  rejectionOf,
  SECRET,
  type TestCertificates,
  TlsProxy,
  trackResultQueues,
} from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmqpBackend, type AmqpBackendOptions } from '../src/index.js';

// amqps:// end to end without touching the shared RabbitMQ: a TLS endpoint of this file's own, with a
// certificate made here by openssl for 127.0.0.1 and localhost, forwards to it. What the endpoint
// sees of each handshake shows that the TLS options in clientOptions reach the socket.

let certs: TestCertificates;
let proxy: TlsProxy;
const queues = new Set<string>();
const open: AmqpBackend[] = [];
beforeAll(async () => {
  certs = makeCertificates();
  proxy = await new TlsProxy(certs).start();
});
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
  await deleteQueues(queues);
  queues.clear();
});
afterAll(async () => {
  await proxy?.close();
  certs?.remove();
  await closeAdmin();
});

function backend(options: AmqpBackendOptions): AmqpBackend {
  const b = new AmqpBackend({ connectionName: `${uniqueNamespace('mttls')}-backend`, ...options });
  open.push(b);
  return trackResultQueues(b, queues) as AmqpBackend;
}

describe('AmqpBackend over TLS (amqps://)', () => {
  it('passes ca, servername, cert and key from clientOptions to the TLS socket, and verifies the certificate', async () => {
    const before = proxy.handshakes.length;
    const b = backend({
      url: proxy.url('guest', 'guest'),
      clientOptions: { ca: certs.ca, servername: 'localhost', cert: certs.cert, key: certs.key },
      logger: silentLogger,
    });
    const sig = signature('add', [1, 2], { headers: {} });
    await b.setStatePending(sig);
    expect((await b.getState(sig.uuid))?.state).toBe(TaskStatus.PENDING);
    expect(proxy.handshakes.slice(before)).toEqual([
      { servername: 'localhost', clientCertificate: 'localhost' },
    ]);
  });

  it('with only the CA, checks the certificate against the IP address of the URL (no SNI for an IP)', async () => {
    const before = proxy.handshakes.length;
    const b = backend({
      url: proxy.url('guest', 'guest'),
      clientOptions: { ca: certs.ca },
      logger: silentLogger,
    });
    const sig = signature('add', [1, 2], { headers: {} });
    await b.setStatePending(sig);
    expect((await b.getState(sig.uuid))?.state).toBe(TaskStatus.PENDING);
    expect(proxy.handshakes.slice(before)).toEqual([{ servername: false, clientCertificate: undefined }]);
  });

  it('without the CA refuses the certificate, with an ERR_CONNECTION that names TLS and not the password', async () => {
    const logger = recordingLogger();
    const refusedBefore = proxy.refused.length;
    const b = backend({
      url: proxy.url('guest', SECRET),
      connectTimeoutMs: 1000,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      logger,
    });
    const sig = signature('add', [1, 2], { headers: {} });
    const errors = await Promise.all([
      rejectionOf(b.getState(sig.uuid)),
      rejectionOf(b.setStatePending(sig)),
    ]);
    expectConnectionErrors(
      errors,
      /Last error: .*certificate/,
      `amqps://guest:***@127.0.0.1:${proxy.port}/`,
      'clientOptions.ca',
    );
    // The endpoint saw the client break off the handshake: it was the client that said no.
    await eventually(() => expect(proxy.refused.length).toBeGreaterThan(refusedBefore));
    expect(
      logger.lines.some((l) => l.level === 'warn' && JSON.stringify(l.obj).includes('certificate')),
    ).toBe(true);
    expectNoSecret(errors, logger.lines);
  });
});
