import type { TaskEvent } from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisControlPlane } from '../src/index.js';

const shared = rawClient(REDIS_URL);
afterAll(() => shared.disconnect());

const event = (i: number): TaskEvent => ({
  type: 'succeeded',
  taskUUID: `task_${i}`,
  taskName: 'add',
  queue: 'q',
  at: 1_700_000_000_000 + i,
});

describe('RedisControlPlane task event stream', () => {
  const opened: RedisControlPlane[] = [];
  let prefix = '';
  const streamKey = () => `${prefix}machinery_control:events`;
  // Every instance of one test shares its prefix, as processes sharing a control plane do.
  const plane = (options: { maxEvents?: number } = {}) => {
    if (prefix === '') prefix = prefixOf(uniqueNamespace());
    const p = new RedisControlPlane({ url: REDIS_URL, prefix, ...options });
    opened.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((p) => p.close()));
    await deleteKeys(shared, prefix);
    prefix = '';
  });

  it('packs a batch into entries of 20 events, which another instance reads back one by one in order', async () => {
    const seen: TaskEvent[] = [];
    const unsubscribe = await plane().events.subscribe((e) => seen.push(e));
    const publisher = plane();
    const batch = Array.from({ length: 45 }, (_, i) => event(i));
    await publisher.events.publish(batch);
    await eventually(() => expect(seen).toHaveLength(45), { timeoutMs: 10_000 });
    expect(seen).toEqual(batch);
    // 45 events in 3 stream entries (20 + 20 + 5): one XADD per 20 events, not per event.
    expect(await shared.xlen(streamKey())).toBe(3);
    await unsubscribe();
  });

  it('keeps the stream bounded to about maxEvents events whatever the load', async () => {
    const publisher = plane({ maxEvents: 200 });
    for (let round = 0; round < 30; round++)
      await publisher.events.publish(Array.from({ length: 40 }, (_, i) => event(round * 40 + i)));
    const entries = (await shared.xrange(streamKey(), '-', '+')) as [string, string[]][];
    const events = entries.reduce((n, [, fields]) => n + fields.length / 2, 0);
    // MAXLEN ~ trims whole radix-tree nodes, so it may keep somewhat more than asked, never 1 200.
    expect(events).toBeGreaterThanOrEqual(200);
    expect(events).toBeLessThan(1200);
  });
});
