import { signature, TaskStatus, toResult } from '@machinery/core';
import { prefixOf, usePrivateRedis } from '@machinery/test-services';
import { Closer, eventually, observeFor, uniqueNamespace } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { RedisBackend, RedisLock } from '../src/index.js';

// A redis-server of this file's own, so that connections can be killed without touching anyone else.

const redis = usePrivateRedis();
const closer = new Closer();
afterEach(() => closer.closeAll());

it('many waits subscribe together, and the re-reads of their keys share one MGET each', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const waiter = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const writer = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sigs = Array.from({ length: 50 }, (_, i) => signature('add', [i, 2], { headers: {} }));
  for (const sig of sigs) await writer.setStatePending(sig);
  await redis.raw.config('RESETSTAT');
  const waiting = sigs.map((sig) => waiter.waitForState(sig.uuid, new AbortController().signal));
  const channels = sigs.map((sig) => `${prefix}machinery:done:${sig.uuid}`);
  await eventually(async () =>
    expect(await redis.raw.pubsub('NUMSUB', ...channels)).toEqual(channels.flatMap((c) => [c, 1])),
  );
  // The waits of one event-loop turn subscribe together.
  const subscribes = /cmdstat_subscribe:calls=(\d+)/.exec(await redis.raw.info('commandstats'));
  expect(Number(subscribes?.[1])).toBeLessThan(sigs.length);
  await redis.raw.config('RESETSTAT');
  await observeFor(300);
  const stats = await redis.raw.info('commandstats');
  const calls = (command: string) =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  // The keys are re-read while they wait, all of them together: far fewer reads than keys.
  expect(calls('get')).toBe(0);
  expect(calls('mget')).toBeGreaterThan(0);
  expect(calls('mget')).toBeLessThan(sigs.length);
  // Stored together (one script call), so the completions arrive together.
  await Promise.all(sigs.map((sig) => writer.setStateSuccess(sig, [toResult(3)])));
  const states = await Promise.all(waiting);
  expect(states.map((s) => s.state)).toEqual(sigs.map(() => TaskStatus.SUCCESS));
  // The channels are released once nobody waits, together too.
  await eventually(async () =>
    expect(await redis.raw.pubsub('NUMSUB', ...channels)).toEqual(channels.flatMap((c) => [c, 0])),
  );
  const unsubscribes = /cmdstat_unsubscribe:calls=(\d+)/.exec(await redis.raw.info('commandstats'));
  expect(Number(unsubscribes?.[1])).toBeLessThan(sigs.length);
});

it('a completion written while the subscriber connection was down still wakes the waiter', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const waiter = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const writer = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sig = signature('add', [2, 2], { headers: {} });
  const waiting = waiter.waitForState(sig.uuid, new AbortController().signal);
  const channel = `${prefix}machinery:done:${sig.uuid}`;
  await eventually(async () => expect((await redis.raw.pubsub('NUMSUB', channel))[1]).toBe(1));
  // Drop the subscriber connection (and only it), then complete the task before it is back.
  await redis.raw.client('KILL', 'TYPE', 'PUBSUB');
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
  await eventually(async () => expect((await redis.raw.pubsub('NUMSUB', channel))[1]).toBe(1));
  aborted.abort(new Error('no longer interested'));
  await expect(first).rejects.toThrow('no longer interested');
  await backend.setStateFailure(sig, 'boom');
  const state = await second;
  expect(state.state).toBe(TaskStatus.FAILURE);
  expect(state.error).toBe('boom');
});

const publishes = async (): Promise<number> =>
  Number(/cmdstat_publish:calls=(\d+)/.exec(await redis.raw.info('commandstats'))?.[1] ?? 0);

it('a completion is published only while some backend awaits results', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const writer = closer.add(new RedisBackend({ url: redis.url, prefix }));
  // Nobody waits: once the writer has looked, completions go without a message.
  await eventually(async () => {
    await redis.raw.config('RESETSTAT');
    await writer.setStateSuccess(signature('add', [1], { headers: {} }), [toResult(1)]);
    expect(await publishes()).toBe(0);
  });
  // A waiter elsewhere marks the prefix as listened to; the writer publishes again once it has seen it.
  const waiter = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const awaited = signature('add', [2], { headers: {} });
  const waiting = waiter.waitForState(awaited.uuid, new AbortController().signal);
  await eventually(async () => expect(await redis.raw.exists(`${prefix}machinery:listening`)).toBe(1));
  await eventually(async () => {
    await redis.raw.config('RESETSTAT');
    await writer.setStateSuccess(signature('add', [3], { headers: {} }), [toResult(3)]);
    expect(await publishes()).toBe(1);
  });
  await writer.setStateSuccess(awaited, [toResult(2)]);
  expect((await waiting).state).toBe(TaskStatus.SUCCESS);
});

it('a waiter the writer has not seen yet is still woken (by its re-reads)', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const writer = closer.add(new RedisBackend({ url: redis.url, prefix }));
  await eventually(async () => {
    await redis.raw.config('RESETSTAT');
    await writer.setStateSuccess(signature('add', [1], { headers: {} }), [toResult(1)]);
    expect(await publishes()).toBe(0);
  });
  const waiter = closer.add(new RedisBackend({ url: redis.url, prefix }));
  const sig = signature('add', [4], { headers: {} });
  const waiting = waiter.waitForState(sig.uuid, new AbortController().signal);
  await writer.setStateSuccess(sig, [toResult(4)]);
  expect((await waiting).state).toBe(TaskStatus.SUCCESS);
});

it('a released lock is never one that expired and was taken by another holder', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const a = closer.add(new RedisLock({ url: redis.url, prefix }));
  const b = closer.add(new RedisLock({ url: redis.url, prefix }));
  expect(await a.acquire('tick', 100)).toBe(true);
  await eventually(async () => expect(await b.acquire('tick', 10_000)).toBe(true), { intervalMs: 20 });
  await a.release('tick');
  expect(await redis.raw.exists(`${prefix}tick`)).toBe(1);
  expect(await a.acquire('tick', 10_000)).toBe(false);
});
