import { type Delivery, defineTask, Server, signature, silentLogger } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { Closer, eventually, observeFor, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js';

const raw = rawClient(REDIS_URL);
const closer = new Closer();
let prefix = '';
afterEach(async () => {
  await closer.closeAll();
  await deleteKeys(raw, prefix);
});
afterAll(() => raw.disconnect());

function broker(options: RedisBrokerOptions = {}): RedisBroker {
  return closer.add(new RedisBroker({ url: REDIS_URL, prefix, ...options }));
}

async function collect(b: RedisBroker, concurrency = 1): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const consumer = await b.consume(b.defaultQueue, (d) => got.push(d), { concurrency, prefetch: 0 });
  closer.add({ close: () => consumer.stop() });
  return got;
}

it('fences a stale worker: once its lease expired and the task went to another worker, its ack is refused', async () => {
  prefix = prefixOf(uniqueNamespace());
  // A long lease so that the stale worker does not renew during the test.
  const stale = broker({ leaseMs: 60_000 });
  const first = await collect(stale);
  await stale.publish(signature('fenced', [], { headers: {} }));
  await eventually(() => expect(first).toHaveLength(1));
  const d1 = first[0] as Delivery;
  // The stale worker stalls past its deadline (as in a long pause): its lease is due.
  await raw.zadd(`${prefix}machinery_tasks:leases`, 0, d1.token);

  const fresh = broker({ leaseMs: 60_000 });
  const second = await collect(fresh);
  await eventually(() => expect(second).toHaveLength(1));
  const d2 = second[0] as Delivery;
  expect(d2.signature.uuid).toBe(d1.signature.uuid);
  expect(d2.token).not.toBe(d1.token);
  expect(d2.attempt).toBe(2);
  expect(d2.redelivered).toBe(true);

  expect(await d1.extendLease?.(1000)).toBe(false);
  expect(await d1.ack()).toBe(false);
  expect(await d2.ack()).toBe(true);
});

it('renews a held lease while the task runs: no other worker gets it', async () => {
  prefix = prefixOf(uniqueNamespace());
  const holder = broker({ leaseMs: 300 });
  const held = await collect(holder);
  await holder.publish(signature('long', [], { headers: {} }));
  await eventually(() => expect(held).toHaveLength(1));
  const other = await collect(broker({ leaseMs: 300 }));
  await observeFor(1500);
  expect(other).toHaveLength(0);
  expect(await (held[0] as Delivery).ack()).toBe(true);
});

it('counts delivery attempts across lease expiries and delayed requeues', async () => {
  prefix = prefixOf(uniqueNamespace());
  const a = broker({ leaseMs: 60_000 });
  const got = await collect(a);
  await a.publish(signature('counted', [], { headers: {} }));
  await eventually(() => expect(got).toHaveLength(1));
  await (got[0] as Delivery).nack({ requeue: true, delayMs: 50 });
  await eventually(() => expect(got).toHaveLength(2));
  expect((got[1] as Delivery).attempt).toBe(2);
  await raw.zadd(`${prefix}machinery_tasks:leases`, 0, (got[1] as Delivery).token);
  const b = broker({ leaseMs: 60_000 });
  const again = await collect(b);
  await eventually(() => expect(again).toHaveLength(1));
  expect((again[0] as Delivery).attempt).toBe(3);
  await (again[0] as Delivery).ack();
});

it('exposes the lease token to task code as this.token', async () => {
  prefix = prefixOf(uniqueNamespace());
  const b = broker();
  const server = closer.add(new Server({ broker: b, logger: silentLogger }));
  const seen: string[] = [];
  const leased: string[] = [];
  const withToken = defineTask('with_token', async function () {
    leased.push(...(await raw.zrange(`${prefix}machinery_tasks:leases`, 0, '-1')));
    seen.push(this.token);
  });
  server.register(withToken);
  await server.worker({ concurrency: 1, handleSignals: false }).start();
  await server.send(withToken.signature());
  await eventually(() => expect(seen).toHaveLength(1));
  expect(seen[0]).toMatch(/^[\w-]+:\d+$/);
  expect(leased).toContain(seen[0]);
});
