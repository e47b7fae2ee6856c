import { signature, TaskStatus, toResult } from '@machinery/core';
import { PrivateRedis, prefixOf, rawClient } from '@machinery/test-services';
import { Closer, eventually, observeFor, uniqueNamespace } from '@machinery/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

// A redis-server of this file's own, so that connections can be killed without touching anyone else.

let redis: PrivateRedis;
let raw: Redis;
const closer = new Closer();
beforeAll(async () => {
  redis = await PrivateRedis.start();
  raw = rawClient(redis.url);
});
afterEach(() => closer.closeAll());
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

it('waitForState is pushed: a waiter is woken by the completion, with no polling reads', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const waiter = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const writer = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sig = signature('add', [1, 2], { headers: {} });
  await writer.setStatePending(sig);
  const controller = new AbortController();
  const waiting = waiter.waitForState(sig.uuid, controller.signal);
  // Subscribed, and the one read that closes the race done:
  await eventually(async () =>
    expect(await raw.pubsub('NUMSUB', `${prefix}machinery:done:${sig.uuid}`)).toEqual([
      `${prefix}machinery:done:${sig.uuid}`,
      1,
    ]),
  );
  await raw.config('RESETSTAT');
  await observeFor(300);
  const gets = /cmdstat_(get|mget):calls=(\d+)/g;
  expect(
    [...(await raw.info('commandstats')).matchAll(gets)].map((m) => Number(m[2])).reduce((a, b) => a + b, 0),
  ).toBe(0);
  await writer.setStateSuccess(sig, [toResult(3)]);
  const state = await waiting;
  expect(state.state).toBe(TaskStatus.SUCCESS);
  // The channel is released once nobody waits.
  await eventually(async () =>
    expect(await raw.pubsub('NUMSUB', `${prefix}machinery:done:${sig.uuid}`)).toEqual([
      `${prefix}machinery:done:${sig.uuid}`,
      0,
    ]),
  );
});

it('a completion written while the subscriber connection was down still wakes the waiter', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const waiter = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const writer = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sig = signature('add', [2, 2], { headers: {} });
  const waiting = waiter.waitForState(sig.uuid, new AbortController().signal);
  const channel = `${prefix}machinery:done:${sig.uuid}`;
  await eventually(async () => expect((await raw.pubsub('NUMSUB', channel))[1]).toBe(1));
  // Drop the subscriber connection (and only it), then complete the task before it is back.
  await raw.client('KILL', 'TYPE', 'PUBSUB');
  await writer.setStateSuccess(sig, [toResult(4)]);
  expect((await waiting).state).toBe(TaskStatus.SUCCESS);
});

it('many waiters on one task share one subscription, and an aborted waiter leaves the others waiting', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const backend = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sig = signature('add', [3], { headers: {} });
  const aborted = new AbortController();
  const first = backend.waitForState(sig.uuid, aborted.signal);
  const second = backend.waitForState(sig.uuid, new AbortController().signal);
  const channel = `${prefix}machinery:done:${sig.uuid}`;
  await eventually(async () => expect((await raw.pubsub('NUMSUB', channel))[1]).toBe(1));
  aborted.abort(new Error('no longer interested'));
  await expect(first).rejects.toThrow('no longer interested');
  await backend.setStateFailure(sig, 'boom');
  const state = await second;
  expect(state.state).toBe(TaskStatus.FAILURE);
  expect(state.error).toBe('boom');
});

it('a released lock is never one that expired and was taken by another holder', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const a = closer.add(new RedisLock({ url: redis.url, prefix }));
  const b = closer.add(new RedisLock({ url: redis.url, prefix }));
  expect(await a.acquire('tick', 100)).toBe(true);
  await eventually(async () => expect(await b.acquire('tick', 10_000)).toBe(true), { intervalMs: 20 });
  await a.release('tick');
  expect(await raw.exists(`${prefix}tick`)).toBe(1);
  expect(await a.acquire('tick', 10_000)).toBe(false);
});
