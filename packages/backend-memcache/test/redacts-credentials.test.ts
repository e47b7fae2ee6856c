import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { isMachineryError, signature, toResult } from '@machinery/core';
import {
  expectConnectionErrors,
  expectNoSecret,
  freePort,
  killProcess,
  type RecordingLogger,
  recordingLogger,
  rejectionOf,
  SECRET,
} from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MemcacheBackend, type MemcacheBackendOptions } from '../src/index.js';
import { MEMCACHE_SERVERS } from './memcache.js';

// memjs takes SASL credentials in the server list (`user:password@host:port`); the password must
// never reach a log line (at any level) or an error (message, stack, cause, or any field a logger
// would print): not when nothing listens, not when memcached goes away under a working connection,
// not when an operation fails. (The shared memcached has no SASL, so it ignores the credentials: a
// refused password cannot be shown here.)

const open: MemcacheBackend[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
  for (const child of children.splice(0)) await killProcess(child);
});

/** A memcached of the test's own on a free loopback port; resolves once it accepts connections. */
async function privateMemcached(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  // memcached refuses to run as root unless told which user to be.
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const child = spawn('memcached', [...user, '-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '16'], {
    stdio: 'ignore',
  });
  children.push(child);
  await eventually(
    () =>
      new Promise<void>((resolve, reject) => {
        if (child.exitCode !== null) reject(new Error(`memcached exited with ${child.exitCode}`));
        const socket = connect(port, '127.0.0.1', () => {
          socket.end();
          resolve();
        });
        socket.once('error', reject);
      }),
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  return { port, child };
}

function make(options: MemcacheBackendOptions): { backend: MemcacheBackend; logger: RecordingLogger } {
  const logger = recordingLogger();
  const backend = new MemcacheBackend({
    prefix: `${uniqueNamespace('mtsecret')}:`,
    resultsExpireIn: 60,
    ...options,
    logger,
  });
  open.push(backend);
  return { backend, logger };
}

/** Runs every kind of operation at once and returns how each failed. */
function failures(backend: MemcacheBackend): Promise<unknown[]> {
  const sig = signature('add', [1, 2], { headers: {} });
  const group = `group_${uniqueNamespace()}`;
  return Promise.all([
    rejectionOf(backend.setStatePending(sig)),
    rejectionOf(backend.setStateSuccess(sig, [toResult(3)])),
    rejectionOf(backend.getState(sig.uuid)),
    rejectionOf(backend.initGroup(group, [sig.uuid])),
    rejectionOf(backend.getGroupMeta(group)),
    rejectionOf(backend.triggerChord(group)),
    rejectionOf(backend.purgeState(sig.uuid)),
  ]);
}

/** How a failed operation names the servers it could not reach. */
const MEMCACHED_DOWN = /Check that memcached is running at 127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*\.$/;

describe('MemcacheBackend never shows the SASL password of its server list', () => {
  it.each([
    { name: 'user:password@host:port', servers: (port: number) => `machinery:${SECRET}@127.0.0.1:${port}` },
    {
      name: 'memcache:// and two servers',
      servers: (port: number) =>
        `memcache://machinery:${SECRET}@127.0.0.1:${port},other:${SECRET}@127.0.0.1:${port}`,
    },
  ])('when nothing listens ($name)', async ({ servers }) => {
    const { backend, logger } = make({ servers: servers(await freePort()) });
    const errors = await failures(backend);
    expectConnectionErrors(errors, MEMCACHED_DOWN);
    // memjs reports each failure after its retries; the backend passes that on at debug.
    expect(logger.lines.some((l) => /ECONNREFUSED/.test(JSON.stringify(l.obj)))).toBe(true);
    expectNoSecret(errors, logger.lines);
  });

  it('when memcached goes away under a working connection', async () => {
    const { port, child } = await privateMemcached();
    const { backend, logger } = make({ servers: `machinery:${SECRET}@127.0.0.1:${port}` });
    const sig = signature('add', [1, 2], { headers: {} });
    await backend.setStatePending(sig);
    expect((await backend.getState(sig.uuid))?.state).toBe('PENDING');
    await killProcess(child);
    const errors = await failures(backend);
    expectConnectionErrors(errors, MEMCACHED_DOWN);
    expect(logger.lines.length).toBeGreaterThan(0);
    expectNoSecret(errors, logger.lines);
  });

  it('when an operation fails on a working connection (a value over the item size)', async () => {
    const shared = MEMCACHE_SERVERS.split(',')[0] as string;
    const { backend, logger } = make({ servers: `machinery:${SECRET}@${shared}` });
    const sig = signature('add', [1, 2], { headers: {} });
    const err = await rejectionOf(backend.setStateSuccess(sig, [toResult('x'.repeat(2 * 1024 * 1024))]));
    expect(isMachineryError(err, 'ERR_PAYLOAD_TOO_LARGE'), String(err)).toBe(true);
    expect((err as Error).message).not.toContain('machinery:');
    expectNoSecret(err, logger.lines);
  });
});
