import { randomUUID } from 'node:crypto';
import { deleteKeys, prefixOf, REDIS_URL, rawClient, TcpProxy } from '@machinery/test-services';
import { Closer, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

// ioredis resends a command whose reply was lost when its connection broke, so Redis runs it twice.
// The second run must answer what the first did: a caller that triggered a chord (or took a lock)
// and is told "already taken" by its own replay would drop the chord's callback (or skip a tick).

const raw = rawClient(REDIS_URL);
const closer = new Closer();
let prefix = '';
let proxy: TcpProxy;
let viaProxy = '';
beforeEach(async () => {
  prefix = prefixOf(uniqueNamespace());
  ({ proxy, url: viaProxy } = await TcpProxy.inFrontOf(REDIS_URL));
  closer.add(proxy);
});
afterEach(async () => {
  await closer.closeAll();
  await deleteKeys(raw, prefix);
});
afterAll(() => raw.disconnect());

it('a chord trigger whose reply was lost still wins when ioredis runs it again', async () => {
  const backend = closer.add(new RedisBackend({ url: viaProxy, prefix }));
  const other = closer.add(new RedisBackend({ url: REDIS_URL, prefix }));
  const [warmUp, group] = [randomUUID(), randomUUID()];
  await other.initGroup(warmUp, [randomUUID()]);
  await other.initGroup(group, [randomUUID(), randomUUID()]);
  // Connected, and the script cached in Redis (a NOSCRIPT reply would hide the replay).
  expect(await backend.triggerChord(warmUp)).toBe(true);

  const losing = proxy.loseReplies(200);
  const triggered = backend.triggerChord(group);
  await losing;

  expect(await triggered).toBe(true);
  expect((await other.getGroupMeta(group))?.chordTriggered).toBe(true);
  // Another caller still loses.
  expect(await other.triggerChord(group)).toBe(false);
});

it('a lock acquire whose reply was lost still holds the lock when ioredis runs it again', async () => {
  const lock = closer.add(new RedisLock({ url: viaProxy, prefix }));
  const other = closer.add(new RedisLock({ url: REDIS_URL, prefix }));
  expect(await lock.acquire('warm-up', 1000)).toBe(true); // connected, script cached

  const losing = proxy.loseReplies(200);
  const acquired = lock.acquire('tick', 60_000);
  await losing;

  expect(await acquired).toBe(true);
  expect(await other.acquire('tick', 60_000)).toBe(false);
  await lock.release('tick');
  expect(await other.acquire('tick', 60_000)).toBe(true);
});
