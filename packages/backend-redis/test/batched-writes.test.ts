import { signature, TaskStatus, toResult } from '@machinery/core';
import { prefixOf, usePrivateRedis } from '@machinery/test-services';
import { Closer, uniqueNamespace } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { RedisBackend } from '../src/index.js';

// Commands are counted with INFO commandstats on a redis-server of this file's own.

const redis = usePrivateRedis();
const closer = new Closer();
afterEach(() => closer.closeAll());

it('the states of tasks stored together read their earlier states with one MGET and keep CreatedAt', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const backend = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sigs = Array.from({ length: 50 }, (_, i) => signature('add', [i, 2], { headers: {} }));
  await Promise.all(sigs.map((sig) => backend.setStatePending(sig)));
  const pending = await Promise.all(sigs.map((sig) => backend.getState(sig.uuid)));
  await redis.raw.config('RESETSTAT');
  await Promise.all(sigs.map((sig) => backend.setStateSuccess(sig, [toResult(3)])));
  const c = await redis.calls();
  expect(c.mget).toBe(1);
  expect(c.get ?? 0).toBe(0);
  expect(c.set).toBe(sigs.length);
  const stored = await Promise.all(sigs.map((sig) => backend.getState(sig.uuid)));
  expect(stored.map((s) => s?.state)).toEqual(sigs.map(() => TaskStatus.SUCCESS));
  expect(stored.map((s) => s?.createdAt.getTime())).toEqual(pending.map((s) => s?.createdAt.getTime()));
});

it('a PENDING and a later state of one task in the same batch: the later one keeps what PENDING wrote', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const backend = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sig = signature('add', [1, 2], { headers: {} });
  // Both queued in one event-loop turn: one script call holds both writes.
  await Promise.all([backend.setStatePending(sig), backend.setStateStarted({ ...sig, name: '' })]);
  const state = await backend.getState(sig.uuid);
  expect(state?.state).toBe(TaskStatus.STARTED);
  // The name came from the PENDING written earlier in the same call, not from a read before it.
  expect(state?.taskName).toBe('add');
});

it('a keeping write over a key of another type fails alone, and the others of its batch are stored', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const backend = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const bad = signature('add', [1, 2], { headers: {} });
  const good = signature('add', [3, 4], { headers: {} });
  await redis.raw.rpush(prefix + bad.uuid, 'a list, not a state');
  const outcomes = await Promise.allSettled([backend.setStateStarted(bad), backend.setStateStarted(good)]);
  expect(outcomes[0]?.status).toBe('rejected');
  expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
  expect(outcomes[1]?.status).toBe('fulfilled');
  expect((await backend.getState(good.uuid))?.state).toBe(TaskStatus.STARTED);
  expect(await redis.raw.type(prefix + bad.uuid)).toBe('list');
});
