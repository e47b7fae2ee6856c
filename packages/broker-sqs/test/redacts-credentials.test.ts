import { isMachineryError, signature } from '@machinery/core';
import {
  expectNoSecret,
  freePort,
  type RecordingLogger,
  recordingLogger,
  rejectionOf,
  SECRET,
} from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqsBroker, type SqsBrokerOptions } from '../src/index.js';
import { PrivateFauxqs } from './private-fauxqs.js';
import { cleanup, SQS_ENDPOINT } from './sqs.js';

// SQS credentials are options, not part of a URL: the secret access key (and a session token) must
// never reach a log line (at any level) or an error (message, stack, cause, or any field a logger
// would print) — not when nothing listens, not when SQS refuses a request, not when the endpoint goes
// away under a running consumer.

const credentials = {
  accessKeyId: 'AKIDMACHINERYTEST',
  secretAccessKey: SECRET,
  sessionToken: `${SECRET}-session-token`,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let fauxqs: PrivateFauxqs | undefined;
afterAll(async () => {
  await fauxqs?.stop();
});

/** A broker whose queues are named after a fresh namespace; one SDK attempt per request. */
function make(extra: SqsBrokerOptions): { broker: SqsBroker; logger: RecordingLogger; namespace: string } {
  const logger = recordingLogger();
  const namespace = uniqueNamespace('mtsecret');
  const broker = new SqsBroker({
    region: 'us-east-1',
    defaultQueue: `${namespace}_tasks`,
    visibilityTimeoutMs: 1000,
    waitTimeSeconds: 1,
    clientOptions: { maxAttempts: 1 },
    ...extra,
    logger,
  });
  cleanups.push(() => broker.close());
  return { broker, logger, namespace };
}

/**
 * Runs every operation that goes to SQS at once and returns how each failed. Inspection (dead
 * letters) is included as it settles: it may find nothing rather than fail, but must not leak either.
 */
async function failures(broker: SqsBroker): Promise<{ errors: unknown[]; inspection: unknown[] }> {
  const sig = signature('add', [1, 2], { headers: {} });
  const later = signature('add', [3, 4], { headers: {}, eta: new Date(Date.now() + 60_000) });
  const [errors, inspection] = await Promise.all([
    Promise.all([
      rejectionOf(broker.publish(sig)),
      rejectionOf(broker.publish(later)),
      rejectionOf(broker.publishMany([sig, later])),
      // A queue this broker has not resolved yet: consume() must reach SQS for it.
      rejectionOf(broker.consume(`${broker.defaultQueue}_other`, () => {}, { concurrency: 1, prefetch: 0 })),
    ]),
    Promise.allSettled([broker.deadLetters(), broker.requeueDeadLetters()]),
  ]);
  return { errors, inspection };
}

describe.each([
  { name: 'static credentials', credentials },
  { name: 'a credentials provider', credentials: async () => credentials },
])('SqsBroker never shows the secret access key ($name)', (form) => {
  it('when nothing listens at the endpoint', async () => {
    const { broker, logger } = make({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      credentials: form.credentials,
    });
    const { errors, inspection } = await failures(broker);
    for (const err of errors) {
      expect(isMachineryError(err, 'ERR_CONNECTION'), String(err)).toBe(true);
      expect((err as Error).message).toContain('ECONNREFUSED');
    }
    expectNoSecret(errors, inspection, logger.lines);
  });

  it('when SQS refuses a request (a queue that does not exist)', async () => {
    const { broker, logger, namespace } = make({
      endpoint: SQS_ENDPOINT,
      credentials: form.credentials,
      createQueues: false,
    });
    cleanups.push(() => cleanup({ namespace }));
    const { errors, inspection } = await failures(broker);
    for (const err of errors) {
      expect(isMachineryError(err, 'ERR_NOT_FOUND'), String(err)).toBe(true);
      expect((err as Error).message).toContain('QueueDoesNotExist');
    }
    expectNoSecret(errors, inspection, logger.lines);
  });
});

describe('SqsBroker never shows the secret access key', () => {
  it('nor a password in the endpoint URL itself, when nothing listens there', async () => {
    const { broker, logger } = make({
      endpoint: `http://proxyuser:${SECRET}@127.0.0.1:${await freePort()}`,
      credentials,
    });
    const { errors, inspection } = await failures(broker);
    for (const err of errors) expect(isMachineryError(err, 'ERR_CONNECTION'), String(err)).toBe(true);
    expectNoSecret(errors, inspection, logger.lines);
  });

  it('when the endpoint goes away under a running consumer', async () => {
    fauxqs = await PrivateFauxqs.start();
    const { broker, logger } = make({ endpoint: fauxqs.endpoint, credentials });
    await broker.publish(signature('add', [1, 2], { headers: {} }));
    const received: string[] = [];
    const consumer = await broker.consume(
      broker.defaultQueue,
      (d) => {
        received.push(d.signature.uuid);
        // Held, not acknowledged: its visibility is extended until the endpoint is gone.
      },
      { concurrency: 1, prefetch: 0 },
    );
    cleanups.push(() => consumer.stop());
    await eventually(() => expect(received).toHaveLength(1));
    await fauxqs.down();
    // The receive loop and the visibility heartbeat fail in the background, and say so.
    await eventually(
      () => expect(logger.lines.some((l) => l.level === 'error' || l.level === 'warn')).toBe(true),
      {
        timeoutMs: 10_000,
      },
    );
    const { errors, inspection } = await failures(broker);
    for (const err of errors) expect(isMachineryError(err, 'ERR_CONNECTION'), String(err)).toBe(true);
    expectNoSecret(errors, inspection, logger.lines);
  });
});
