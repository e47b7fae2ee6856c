import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Delivery,
  decodeSignature,
  encodeSignature,
  encodeSignatureCompact,
  signature,
} from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { Closer, eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js';

// Go Machinery's Redis layout, checked at the level of Redis itself: a Go producer's RPUSH (and
// delayed ZADD) is consumed by us, and what we publish is exactly the element a Go worker BLPOPs.

const vectorsDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../core/test/vectors');
const vectors = readdirSync(vectorsDir)
  .filter((f) => f.startsWith('signature-'))
  .map((f) => ({ file: f, body: readFileSync(join(vectorsDir, f), 'utf8').trim() }));

const raw = rawClient(REDIS_URL);
const closer = new Closer();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await closer.closeAll();
  for (const c of cleanups.splice(0)) await c();
});
afterAll(() => raw.disconnect());

function broker(options: RedisBrokerOptions): RedisBroker {
  return closer.add(new RedisBroker({ url: REDIS_URL, ...options }));
}

async function receive(b: RedisBroker, queue: string, count: number): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const consumer = await b.consume(queue, (d) => got.push(d), { concurrency: count, prefetch: 0 });
  closer.add({ close: () => consumer.stop() });
  await eventually(() => expect(got).toHaveLength(count), { timeoutMs: 10_000 });
  return got;
}

describe('Go Machinery interop at the Redis level', () => {
  it('has signature vectors to check', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(4);
  });

  for (const { file, body } of vectors) {
    it(`consumes a Go producer's RPUSH of ${file} and decodes it byte for byte`, async () => {
      const ns = uniqueNamespace();
      const prefix = prefixOf(ns);
      cleanups.push(() => deleteKeys(raw, prefix));
      const routingKey = JSON.parse(body).RoutingKey as string;
      // What a Go producer does (its ETA, if any, is in the past: due at once).
      await raw.rpush(prefix + routingKey, body);
      const b = broker({ prefix });
      const [d] = await receive(b, routingKey, 1);
      expect(encodeSignature((d as Delivery).signature)).toBe(body);
      expect(await (d as Delivery).ack()).toBe(true);
      expect(await raw.exists(prefix + routingKey)).toBe(0);
    });

    it(`publishes ${file} with wireFormat "go" as exactly the list element a Go producer pushes`, async () => {
      const ns = uniqueNamespace();
      const prefix = prefixOf(ns);
      cleanups.push(() => deleteKeys(raw, prefix));
      const b = broker({ prefix, wireFormat: 'go' });
      const sig = decodeSignature(body);
      sig.eta = null;
      await b.publish(sig);
      expect(await raw.lrange(prefix + sig.routingKey, 0, -1)).toEqual([encodeSignature(sig)]);
    });

    it(`publishes ${file} compact by default: Go's JSON without zero values, read back as the same message`, async () => {
      const ns = uniqueNamespace();
      const prefix = prefixOf(ns);
      cleanups.push(() => deleteKeys(raw, prefix));
      const b = broker({ prefix });
      const sig = decodeSignature(body);
      sig.eta = null;
      await b.publish(sig);
      const [element] = await raw.lrange(prefix + sig.routingKey, 0, -1);
      expect(element).toBe(encodeSignatureCompact(sig));
      // Missing fields decode to Go's zero values, as in Go's encoding/json (empty Headers become nil):
      // the same message in every field that carries a value.
      expect(encodeSignatureCompact(decodeSignature(element as string))).toBe(element);
    });
  }

  it('keeps Go’s unprefixed layout by default: the list is the routing key, delays in the shared ZSET scored in ns', async () => {
    // Unique names stand in for machinery_tasks / delayed_tasks on the shared server.
    const ns = uniqueNamespace();
    const queue = `${ns}_machinery_tasks`;
    const delayedTasksKey = `${ns}_delayed_tasks`;
    cleanups.push(async () => {
      await raw.del(queue, delayedTasksKey, `${queue}:leases`, `${queue}:inflight`, `${queue}:consumers`);
    });
    const b = broker({ defaultQueue: queue, delayedTasksKey, wireFormat: 'go' });
    const now = signature('now', [1, 'a'], { headers: {} });
    await b.publish(now);
    expect(now.routingKey).toBe(queue);
    expect(await raw.lrange(queue, 0, -1)).toEqual([encodeSignature(now)]);

    const eta = new Date(Date.now() + 3_600_000);
    const later = signature('later', [2], { headers: {}, eta });
    await b.publish(later);
    const members = await raw.zrange(delayedTasksKey, 0, '-1', 'WITHSCORES');
    expect(members[0]).toBe(encodeSignature(later));
    expect(Number(members[1])).toBe(eta.getTime() * 1e6);
    expect(JSON.parse(members[0] as string).RoutingKey).toBe(queue);
  });

  it('moves a delayed task a Go producer added (ZADD in ns) to the list of its own RoutingKey', async () => {
    const ns = uniqueNamespace();
    const prefix = prefixOf(ns);
    cleanups.push(() => deleteKeys(raw, prefix));
    const sig = signature('go_delayed', [7], { headers: {}, routingKey: 'crawler' });
    sig.eta = new Date(Date.now() + 200);
    const body = encodeSignature(sig);
    await raw.zadd(`${prefix}delayed_tasks`, String(BigInt(sig.eta.getTime()) * 1_000_000n), body);
    const b = broker({ prefix });
    // The mover runs while the broker consumes anything; the task lands on its own queue, "crawler".
    const [d] = await receive(b, 'crawler', 1);
    expect(encodeSignature((d as Delivery).signature)).toBe(body);
    expect(await raw.zcard(`${prefix}delayed_tasks`)).toBe(0);
  });

  it('dead-letters a delayed member that is not a Machinery message instead of leaving it in the set', async () => {
    const ns = uniqueNamespace();
    const prefix = prefixOf(ns);
    cleanups.push(() => deleteKeys(raw, prefix));
    await raw.zadd(`${prefix}delayed_tasks`, '1', 'not json');
    const b = broker({ prefix });
    const consumer = await b.consume(b.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 });
    closer.add({ close: () => consumer.stop() });
    const dead = await eventually(async () => {
      const list = await b.deadLetters();
      expect(list).toHaveLength(1);
      return list;
    });
    expect(dead[0]?.body).toBe('not json');
    expect(dead[0]?.reason).toMatch(/RoutingKey/);
    expect(await raw.zcard(`${prefix}delayed_tasks`)).toBe(0);
  });
});
