import { type Delivery, signature } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient, TcpProxy } from '@machinery/test-services';
import { Closer, eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';

// ioredis resends every command whose reply was lost when its connection broke: Redis runs it twice.
// A claim run twice must not lease new tasks under the tokens of the first run (that overwrote the
// first run's tasks: found by the soak, 5 of 50 000 tasks lost under connection cuts).

const raw = rawClient(REDIS_URL);
const closer = new Closer();
let prefix = '';
afterEach(async () => {
  await closer.closeAll();
  await deleteKeys(raw, prefix);
});
afterAll(() => raw.disconnect());

it('loses nothing when replies are lost mid-stream and ioredis runs the claims again', async () => {
  prefix = prefixOf(uniqueNamespace());
  const { proxy, url: viaProxy } = await TcpProxy.inFrontOf(REDIS_URL);
  closer.add(proxy);
  // A lease far longer than the test: a task lost from its lease would never come back in time.
  const consuming = closer.add(new RedisBroker({ url: viaProxy, prefix, leaseMs: 60_000 }));
  const producing = closer.add(new RedisBroker({ url: REDIS_URL, prefix }));
  const sent = Array.from({ length: 300 }, (_, i) => signature('replayed', [i], { headers: {} }));
  await producing.publishMany(sent);

  const acked = new Set<string>();
  const consumer = await consuming.consume(
    consuming.defaultQueue,
    (d: Delivery) => {
      // Tasks finish a few at a time, so settle-and-claim calls are in flight when replies vanish.
      setTimeout(() => {
        d.ack().then(
          () => acked.add(d.signature.uuid),
          () => {},
        );
      }, 5);
    },
    { concurrency: 10, prefetch: 0 },
  );
  closer.add({ close: () => consumer.stop() });

  await eventually(() => expect(acked.size).toBeGreaterThan(20));
  await proxy.loseReplies(300);
  await eventually(() => expect(acked.size).toBeGreaterThan(100));
  await proxy.loseReplies(300);

  await eventually(() => expect(acked.size).toBe(sent.length), { timeoutMs: 20_000 });
  expect(await raw.llen(`${prefix}machinery_tasks`)).toBe(0);
  expect(await raw.zcard(`${prefix}machinery_tasks:leases`)).toBe(0);
});
