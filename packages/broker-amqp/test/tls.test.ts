import { AmqpBackend } from '@machinery/backend-amqp';
import { defineTask, Server, signature, silentLogger } from '@machinery/core';
import {
  closeAdmin,
  expectConnectionErrors,
  expectNoSecret,
  makeCertificates,
  ResultQueues,
  recordingLogger,
  rejectionOf,
  SECRET,
  type TestCertificates,
  TlsProxy,
  trackResultQueues,
} from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, sweepNamespaces } from './support.js';

// amqps:// end to end without touching the shared RabbitMQ: a TLS endpoint of this file's own, with a
// certificate made here by openssl for 127.0.0.1 and localhost, forwards to it. What the endpoint
// sees of each handshake shows that the TLS options in clientOptions reach the socket.

let certs: TestCertificates;
let proxy: TlsProxy;
const results = new ResultQueues();
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  certs = makeCertificates();
  proxy = await new TlsProxy(certs).start();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await proxy?.close();
  certs?.remove();
  await sweepNamespaces();
  await closeAdmin();
});

const add = defineTask('add', (a: number, b: number) => a + b);

describe('AmqpBroker and AmqpBackend over TLS (amqps://)', () => {
  it('a task round-trips through a Server and a Worker, with ca and servername passed to the TLS socket', async () => {
    const ns = uniqueNamespace('mttls');
    const url = proxy.url('guest', 'guest');
    const clientOptions = { ca: certs.ca, servername: 'localhost' };
    const before = proxy.handshakes.length;
    const make = (role: string) => {
      const server = new Server({
        broker: new AmqpBroker(brokerOptions(ns, { url, clientOptions, connectionName: `${ns}-${role}` })),
        backend: trackResultQueues(
          new AmqpBackend({
            url,
            clientOptions,
            connectionName: `${ns}-${role}-backend`,
            logger: silentLogger,
          }),
          results.of(ns),
        ),
        logger: silentLogger,
      });
      server.register(add);
      return server;
    };
    const workerSide = make('worker');
    const producer = make('producer');
    cleanups.push(async () => {
      await Promise.all([workerSide.close(), producer.close()]);
      await deleteNamespace(ns);
      await results.delete(ns);
    });
    await workerSide.worker({ concurrency: 2, handleSignals: false }).start();
    const result = await producer.send(add.signature(20, 22));
    expect(await result.get({ timeoutMs: 15_000 })).toBe(42);
    // Every connection (a broker and a backend on each side) came through TLS with the given SNI.
    const seen = proxy.handshakes.slice(before);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const h of seen) expect(h.servername).toBe('localhost');
  });

  it('without the CA the broker refuses the certificate, with an ERR_CONNECTION that names TLS and not the password', async () => {
    const ns = uniqueNamespace('mttls');
    const logger = recordingLogger();
    const refusedBefore = proxy.refused.length;
    const broker = new AmqpBroker(
      brokerOptions(ns, {
        url: proxy.url('guest', SECRET),
        connectTimeoutMs: 1000,
        publishTimeoutMs: 1000,
        reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
        logger,
      }),
    );
    cleanups.push(() => broker.close());
    const errors = await Promise.all([
      rejectionOf(broker.publish(signature('add', [1, 2], { headers: {} }))),
      rejectionOf(broker.consume(broker.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 })),
    ]);
    expectConnectionErrors(
      errors,
      /Last error: .*certificate/,
      `amqps://guest:***@127.0.0.1:${proxy.port}/`,
      'clientOptions.ca',
    );
    await eventually(() => expect(proxy.refused.length).toBeGreaterThan(refusedBefore));
    expect(
      logger.lines.some((l) => l.level === 'warn' && JSON.stringify(l.obj).includes('certificate')),
    ).toBe(true);
    expectNoSecret(errors, logger.lines);
  });
});
