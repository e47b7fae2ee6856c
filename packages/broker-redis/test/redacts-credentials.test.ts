import { signature } from '@machinery/core';
import {
  expectConnectionErrors,
  expectNoSecret,
  expectUnparsableUrlsRedacted,
  freePort,
  prefixOf,
  REDIS_PASSWORD_FORMS,
  type RecordingLogger,
  recordingLogger,
  rejectionOf,
  SECRET,
  SecuredRedis,
} from '@machinery/test-services';
import { Closer, eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js';

// The password must never reach a log line (at any level) or an error (message, stack, cause, or
// any field a logger would print): not when nothing listens, not when Redis refuses it, not when
// Redis goes away under a running consumer, not when the URL is malformed.

let guarded: SecuredRedis;
const closer = new Closer();
beforeAll(async () => {
  guarded = await SecuredRedis.start({ password: 'the-right-password' });
});
afterEach(() => closer.closeAll());
afterAll(async () => {
  await guarded?.stop();
});

/** A broker with `options`, failing a command after one reconnect (not 20). */
function make(options: RedisBrokerOptions): { broker: RedisBroker; logger: RecordingLogger } {
  const logger = recordingLogger();
  const broker = closer.add(
    new RedisBroker({
      ...options,
      prefix: prefixOf(uniqueNamespace()),
      leaseMs: 300,
      clientOptions: { maxRetriesPerRequest: 1, ...options.clientOptions },
      logger,
    }),
  );
  return { broker, logger };
}

/** Runs every kind of operation at once and returns how each failed. */
function failures(broker: RedisBroker): Promise<unknown[]> {
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

describe.each(REDIS_PASSWORD_FORMS)('RedisBroker never shows the password: $name', ({ options }) => {
  it('when nothing listens, through the reconnect attempts', async () => {
    const { broker, logger } = make(options(await freePort()));
    const errors = await failures(broker);
    expectConnectionErrors(errors, /ECONNREFUSED/);
    await eventually(() => expect(logger.lines.length).toBeGreaterThanOrEqual(1), { timeoutMs: 10_000 });
    expectNoSecret(errors, logger.lines);
  });

  it('when Redis refuses the password (WRONGPASS), through the reconnect attempts', async () => {
    const { broker, logger } = make(options(guarded.port));
    const errors = await failures(broker);
    expectConnectionErrors(errors, /WRONGPASS/);
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
    expectNoSecret(errors, logger.lines);
  });
});

describe('RedisBroker never shows the password', () => {
  it('when Redis goes away under a running consumer (background loops keep failing and retrying)', async () => {
    const own = await SecuredRedis.start({ password: SECRET });
    try {
      const { broker, logger } = make({ url: own.url(SECRET) });
      await broker.publish(signature('add', [1, 2], { headers: {} }));
      const consumer = await broker.consume('machinery_tasks', () => {}, { concurrency: 1, prefetch: 0 });
      closer.add({ close: () => consumer.stop() });
      await own.stop();
      const errors = await failures(broker);
      expectConnectionErrors(errors, /./);
      // Lease renewal and reaping fail in the background and say so at error level.
      await eventually(() => expect(logger.lines.some((l) => l.level === 'error')).toBe(true), {
        timeoutMs: 10_000,
      });
      expectNoSecret(errors, logger.lines);
    } finally {
      await own.stop();
    }
  });

  it('when the URL cannot be parsed (Node would put the whole URL on its error)', () => {
    expectUnparsableUrlsRedacted(
      [
        `redis://:${SECRET}@127.0.0.1:99999`,
        `redis://machinery:${SECRET}@127.0.0.1:port`,
        `rediss://machinery:${SECRET}/x@127.0.0.1:6379`,
      ],
      ':***@',
      (url) => closer.add(new RedisBroker({ url })),
    );
  });
});
