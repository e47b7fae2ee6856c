import { type Delivery, encodeSignature, isMachineryError, signature } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { Closer, eventually, uniqueNamespace } from '@machinery/testing';
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
  // A long blocking wait: a task an idle consumer fails to notice would wait a minute, not pass.
  return closer.add(
    new RedisBroker({ url: REDIS_URL, prefix, maxPriority: 5, blockTimeoutMs: 60_000, ...options }),
  );
}

async function collect(b: RedisBroker, concurrency = 1): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const consumer = await b.consume(b.defaultQueue, (d) => got.push(d), { concurrency, prefetch: 0 });
  closer.add({ close: () => consumer.stop() });
  return got;
}

const names = (got: Delivery[]) => got.map((d) => d.signature.name);
const task = (name: string, priority = 0) => signature(name, [], { headers: {}, priority });

it('keeps priority-0 tasks on Go’s key and puts the others on lists of their own, a priority above maxPriority on the highest', async () => {
  prefix = prefixOf(uniqueNamespace());
  const b = broker();
  await b.publish(task('zero'));
  await b.publish(task('three', 3));
  await b.publishMany([task('zero2'), task('huge', 200)]);
  expect(await raw.lrange(`${prefix}machinery_tasks`, 0, -1)).toEqual([
    expect.stringContaining('"Name":"zero"'),
    expect.stringContaining('"Name":"zero2"'),
  ]);
  expect(await raw.lrange(`${prefix}machinery_tasks:priority:3`, 0, -1)).toEqual([
    expect.stringContaining('"Name":"three"'),
  ]);
  expect(await raw.lrange(`${prefix}machinery_tasks:priority:5`, 0, -1)).toEqual([
    expect.stringContaining('"Name":"huge"'),
  ]);
  expect((await b.pendingTasks()).map((s) => s.name)).toEqual(['huge', 'three', 'zero', 'zero2']);
  expect((await b.pendingTasks(undefined, 3)).map((s) => s.name)).toEqual(['huge', 'three', 'zero']);
});

it('without maxPriority writes every task to Go’s key, whatever its priority, and declares no priorities', async () => {
  prefix = prefixOf(uniqueNamespace());
  const b = broker({ maxPriority: 0 });
  expect(b.capabilities.priorities).toBe(false);
  await b.publish(task('low'));
  await b.publish(task('high', 9));
  expect((await raw.lrange(`${prefix}machinery_tasks`, 0, -1)).length).toBe(2);
  expect(await raw.keys(`${prefix}machinery_tasks:priority:*`)).toEqual([]);
  const got = await collect(b);
  await eventually(() => expect(names(got)).toEqual(['low']));
});

it('consumes tasks a Go producer pushed onto the queue list after the priority lists', async () => {
  prefix = prefixOf(uniqueNamespace());
  const b = broker();
  await raw.rpush(`${prefix}machinery_tasks`, encodeSignature(task('from_go', 4)));
  await b.publish(task('mine', 2));
  const got = await collect(b, 1);
  await eventually(() => expect(names(got)).toEqual(['mine']));
  await got[0]?.ack();
  await eventually(() => expect(names(got)).toEqual(['mine', 'from_go']));
});

it('returns an expired lease of a priority task to its priority list, ahead of lower priorities', async () => {
  prefix = prefixOf(uniqueNamespace());
  const crashed = broker({ leaseMs: 500 });
  const first = await collect(crashed);
  await crashed.publish(task('urgent', 4));
  await eventually(() => expect(names(first)).toEqual(['urgent']));
  // The worker goes away without settling: its lease is no longer renewed.
  await crashed.close();
  const b = broker({ leaseMs: 500 });
  await b.publish(task('routine1'));
  const got = await collect(b, 1);
  await eventually(() => expect(names(got)).toEqual(['routine1']));
  await b.publish(task('routine2'));
  // b's consumer is busy, so its reaper's work shows: the task is back on its priority list.
  await eventually(async () => expect(await raw.llen(`${prefix}machinery_tasks:priority:4`)).toBe(1));
  expect(await got[0]?.ack()).toBe(true);
  await eventually(() => expect(names(got)).toEqual(['routine1', 'urgent']));
  expect(got[1]?.attempt).toBe(2);
  expect(await got[1]?.ack()).toBe(true);
  await eventually(() => expect(names(got)).toEqual(['routine1', 'urgent', 'routine2']));
});

it('moves a due delayed task, and a requeued dead letter, to the list of its priority', async () => {
  prefix = prefixOf(uniqueNamespace());
  const b = broker();
  const got = await collect(b, 1);
  await b.publish(task('poison', 2));
  await eventually(() => expect(names(got)).toEqual(['poison']));
  expect(await got[0]?.nack({ requeue: false, reason: 'test' })).toBe(true);
  await b.publish(signature('later', [], { headers: {}, priority: 3, eta: new Date(Date.now() + 300) }));
  await eventually(() => expect(names(got)).toEqual(['poison', 'later']));
  expect(await got[1]?.nack({ requeue: true, delayMs: 200 })).toBe(true);
  await eventually(() => expect(names(got)).toEqual(['poison', 'later', 'later']));
  // While 'later' is held, what comes back waits on the lists: the dead letter on priority 2's.
  expect(await b.requeueDeadLetters()).toBe(1);
  expect(await raw.lrange(`${prefix}machinery_tasks:priority:2`, 0, -1)).toEqual([
    expect.stringContaining('"Name":"poison"'),
  ]);
  expect(await got[2]?.ack()).toBe(true);
  await eventually(() => expect(names(got)).toEqual(['poison', 'later', 'later', 'poison']));
  expect(await got[3]?.ack()).toBe(true);
});

it('refuses a maxPriority outside 0–10', () => {
  for (const maxPriority of [-1, 11, 2.5]) {
    let caught: unknown;
    try {
      new RedisBroker({ url: REDIS_URL, maxPriority });
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_INVALID_ARGUMENT')).toBe(true);
  }
});
