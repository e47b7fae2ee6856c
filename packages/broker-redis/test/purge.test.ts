import { encodeSignature, signature } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { Closer, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';

const raw = rawClient(REDIS_URL);
const closer = new Closer();
let prefix = '';
afterEach(async () => {
  await closer.closeAll();
  await deleteKeys(raw, prefix);
});
afterAll(() => raw.disconnect());

const inAnHour = () => String(BigInt(Date.now() + 3600_000) * 1_000_000n);

it('purges delayed members written by Go — an empty RoutingKey means the default queue — and keeps members that are not tasks', async () => {
  prefix = prefixOf(uniqueNamespace());
  const b = closer.add(new RedisBroker({ url: REDIS_URL, prefix }));
  // Go's field order and an empty RoutingKey, as a Go producer that routes by default writes it.
  const goDefault = encodeSignature(signature('go_default', [], { headers: {} }));
  const goCrawler = encodeSignature(signature('go_crawler', [], { headers: {}, routingKey: 'crawler' }));
  // Another field order: the script falls back to decoding the JSON.
  const reordered = JSON.stringify({ Name: 'reordered', UUID: 'task_x', RoutingKey: b.defaultQueue });
  await raw.zadd(`${prefix}delayed_tasks`, inAnHour(), goDefault, inAnHour(), goCrawler);
  await raw.zadd(`${prefix}delayed_tasks`, inAnHour(), reordered, inAnHour(), 'not json');

  expect(await b.purge(b.defaultQueue, { delayed: true })).toEqual({
    pending: 0,
    delayed: 2,
    deadLetters: 0,
  });
  expect((await raw.zrange(`${prefix}delayed_tasks`, '0', '-1')).sort()).toEqual(
    [goCrawler, 'not json'].sort(),
  );
  expect(await b.purge('crawler', { delayed: true })).toEqual({ pending: 0, delayed: 1, deadLetters: 0 });
  expect(await raw.zrange(`${prefix}delayed_tasks`, '0', '-1')).toEqual(['not json']);
});

it('keeps dead-letter entries that are not its own, and those of other queues, in order', async () => {
  prefix = prefixOf(uniqueNamespace());
  const b = closer.add(new RedisBroker({ url: REDIS_URL, prefix }));
  const entry = (queue: string, body: string) => JSON.stringify({ queue, reason: 'r', at: 1, body });
  const kept = [entry('other', 'a'), 'foreign entry', entry('other', 'b')];
  await raw.rpush(
    `${prefix}machinery:dead_letters`,
    entry(b.defaultQueue, 'x'),
    kept[0] as string,
    entry('', 'y'),
    kept[1] as string,
    kept[2] as string,
  );

  expect(await b.purge(b.defaultQueue, { deadLetters: true })).toEqual({
    pending: 0,
    delayed: 0,
    deadLetters: 2,
  });
  expect(await raw.lrange(`${prefix}machinery:dead_letters`, 0, -1)).toEqual(kept);
});
