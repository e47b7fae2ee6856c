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
import { RedisBackend, type RedisBackendOptions, RedisLock } from '../src/index.js';

// The password must never reach a log line (at any level) or an error (message, stack, cause, or
// any field a logger would print): not when nothing listens, not when Redis refuses it, not when
// Redis goes away under a working connection, not when the URL is malformed.

let guarded: SecuredRedis;
const closer = new Closer();
beforeAll(async () => {
  guarded = await SecuredRedis.start({ password: 'the-right-password' });
});
afterEach(() => closer.closeAll());
afterAll(async () => {
  await guarded?.stop();
});

/** A backend and a lock with `options`, failing a command after one reconnect (not 20). */
function make(options: RedisBackendOptions): {
  backend: RedisBackend;
  lock: RedisLock;
  logger: RecordingLogger;
} {
  const logger = recordingLogger();
  const merged = {
    ...options,
    prefix: prefixOf(uniqueNamespace()),
    clientOptions: { maxRetriesPerRequest: 1, ...options.clientOptions },
  };
  const backend = closer.add(new RedisBackend({ ...merged, logger }));
  const lock = closer.add(new RedisLock(merged));
  return { backend, lock, logger };
}

/** Runs every kind of operation at once and returns how each failed. */
function failures(backend: RedisBackend, lock: RedisLock): Promise<unknown[]> {
  const sig = signature('add', [1, 2], { headers: {} });
  return Promise.all([
    rejectionOf(backend.setStatePending(sig)),
    rejectionOf(backend.getState(sig.uuid)),
    rejectionOf(backend.initGroup('group_x', [sig.uuid])),
    rejectionOf(backend.triggerChord('group_x')),
    rejectionOf(backend.waitForState(sig.uuid, new AbortController().signal)),
    rejectionOf(lock.acquire('periodic', 1000)),
  ]);
}

describe.each(REDIS_PASSWORD_FORMS)(
  'RedisBackend and RedisLock never show the password: $name',
  ({ options }) => {
    it('when nothing listens, through the reconnect attempts', async () => {
      const port = await freePort();
      const { backend, lock, logger } = make(options(port));
      const errors = await failures(backend, lock);
      expectConnectionErrors(errors, /ECONNREFUSED/);
      // Reconnect attempts go on in the background and are logged (at debug) each time.
      await eventually(() => expect(logger.lines.length).toBeGreaterThanOrEqual(3), { timeoutMs: 10_000 });
      expectNoSecret(errors, logger.lines);
      for (const err of errors) expect((err as Error).message).not.toContain(SECRET);
    });

    it('when Redis refuses the password (WRONGPASS), through the reconnect attempts', async () => {
      const { backend, lock, logger } = make(options(guarded.port));
      const errors = await failures(backend, lock);
      expectConnectionErrors(errors, /WRONGPASS/);
      await eventually(() => expect(logger.lines.length).toBeGreaterThanOrEqual(3), { timeoutMs: 10_000 });
      expectNoSecret(errors, logger.lines);
    });
  },
);

describe('RedisBackend and RedisLock never show the password', () => {
  it('when Redis goes away under a working connection', async () => {
    const own = await SecuredRedis.start({ password: SECRET });
    try {
      const { backend, lock, logger } = make({ url: own.url(SECRET) });
      const sig = signature('add', [1, 2], { headers: {} });
      await backend.setStatePending(sig);
      expect(await lock.acquire('periodic', 10_000)).toBe(true);
      await own.stop();
      const errors = [...(await failures(backend, lock)), await rejectionOf(lock.release('periodic'))];
      expectConnectionErrors(errors, /./);
      await eventually(() => expect(logger.lines.length).toBeGreaterThanOrEqual(3), { timeoutMs: 10_000 });
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
      (url) => closer.add(new RedisBackend({ url })),
      (url) => closer.add(new RedisLock({ url })),
    );
  });
});
