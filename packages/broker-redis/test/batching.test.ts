import { type Delivery, signature } from '@machinery/core';
import { prefixOf, usePrivateRedis } from '@machinery/test-services';
import { Closer, eventually, observeFor, uniqueNamespace } from '@machinery/testing';
import { afterEach, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';

// Round trips are counted with INFO commandstats on a redis-server of this test's own, where no
// other traffic blurs the numbers.

const redis = usePrivateRedis();
const closer = new Closer();
afterEach(() => closer.closeAll());

const scripts = (c: Record<string, number>) => (c.evalsha ?? 0) + (c.eval ?? 0);

it('drains 1000 tasks at concurrency 100 in batches: a few dozen script calls, not one per task', async () => {
  const b = closer.add(new RedisBroker({ url: redis.url, prefix: prefixOf(uniqueNamespace()) }));
  await b.publishMany(Array.from({ length: 1000 }, (_, i) => signature(`t${i}`, [], { headers: {} })));
  await redis.raw.config('RESETSTAT');
  let acked = 0;
  const consumer = await b.consume(
    b.defaultQueue,
    (d) => {
      void d.ack().then(() => acked++);
    },
    { concurrency: 100, prefetch: 0 },
  );
  closer.add({ close: () => consumer.stop() });
  await eventually(() => expect(acked).toBe(1000), { timeoutMs: 20_000 });
  const c = await redis.calls();
  console.log(`batching test: 1000 tasks claimed and acknowledged with ${scripts(c)} script calls`);
  // One claim of 100, then each batch of acknowledgements carries the next claim: ~10 + a few timers.
  expect(scripts(c)).toBeLessThan(100);
  // Acknowledgements of a batch are one ZMSCORE, one ZREM and one HDEL, not a ZREM and an HDEL each.
  expect((c.zrem ?? 0) + (c.hdel ?? 0)).toBeLessThan(200);
});

it('an idle consumer blocks instead of polling, and a task sent to it is claimed in the same round trip', async () => {
  const b = closer.add(new RedisBroker({ url: redis.url, prefix: prefixOf(uniqueNamespace()) }));
  const got: Delivery[] = [];
  const consumer = await b.consume(b.defaultQueue, (d) => got.push(d), { concurrency: 4, prefetch: 0 });
  closer.add({ close: () => consumer.stop() });
  await observeFor(100);
  await redis.raw.config('RESETSTAT');
  await observeFor(500);
  expect((await redis.calls()).blmove ?? 0).toBe(0);
  await b.publish(signature('wake', [], { headers: {} }));
  await eventually(() => expect(got).toHaveLength(1));
  expect(got[0]?.signature.name).toBe('wake');
  await (got[0] as Delivery).ack();
});

it('publishMany publishes nothing when one of its keys has the wrong type', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const b = closer.add(new RedisBroker({ url: redis.url, prefix }));
  await redis.raw.set(`${prefix}wrong`, 'a string, not a list');
  await expect(
    b.publishMany([
      signature('ok', [], { headers: {} }),
      signature('bad', [], { headers: {}, routingKey: 'wrong' }),
    ]),
  ).rejects.toThrow(/WRONGTYPE/);
  expect(await redis.raw.llen(`${prefix}machinery_tasks`)).toBe(0);
});

it('publishes sent together leave as one RPUSH per queue, in call order', async () => {
  const b = closer.add(new RedisBroker({ url: redis.url, prefix: prefixOf(uniqueNamespace()) }));
  await b.publish(signature('warm-up', [], { headers: {} }));
  await redis.raw.config('RESETSTAT');
  const sigs = Array.from({ length: 100 }, (_, i) => signature(`p${i}`, [], { headers: {} }));
  await Promise.all(sigs.map((s) => b.publish(s)));
  const c = await redis.calls();
  expect(c.rpush).toBe(1);
  const pending = await b.pendingTasks(b.defaultQueue);
  expect(pending.map((s) => s.name)).toEqual(['warm-up', ...sigs.map((s) => s.name)]);
});

it('a batch of publishes that Redis refuses rejects every one of them, and the next batch goes through', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const b = closer.add(new RedisBroker({ url: redis.url, prefix }));
  // A string where the queue list should be: the RPUSH fails with WRONGTYPE.
  await redis.raw.set(prefix + b.defaultQueue, 'not a list');
  const sigs = Array.from({ length: 3 }, (_, i) => signature(`r${i}`, [], { headers: {} }));
  const outcomes = await Promise.allSettled(sigs.map((s) => b.publish(s)));
  expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
  await redis.raw.del(prefix + b.defaultQueue);
  await Promise.all(sigs.map((s) => b.publish(s)));
  expect((await b.pendingTasks(b.defaultQueue)).map((s) => s.name)).toEqual(['r0', 'r1', 'r2']);
});

it('a publish gathered just before close() still reaches Redis', async () => {
  const prefix = prefixOf(uniqueNamespace());
  const b = new RedisBroker({ url: redis.url, prefix });
  await b.publish(signature('first', [], { headers: {} }));
  // Both calls from one microtask: the close must not send QUIT ahead of the gathered RPUSH.
  let published: Promise<void> | undefined;
  let closed: Promise<void> | undefined;
  await Promise.resolve().then(() => {
    published = b.publish(signature('last', [], { headers: {} }));
    closed = b.close();
  });
  await published;
  await closed;
  expect(await redis.raw.llen(prefix + b.defaultQueue)).toBe(2);
});
