import type { Delivery } from '@machinery/core';
import { expect, it } from 'vitest';
import { eventually, observeFor } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

/** Consuming and flow control: acknowledged tasks are gone, slots bound deliveries, one consumer per message. */
export const consuming = defineGroup('consuming & flow control', ({ harness, timeout }) => {
  it(
    'an acknowledged task is gone: the next delivery is the next task',
    async () => {
      const h = harness();
      const broker = await h.make();
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      await broker.publish(task('first'));
      await eventually(() => expect(got.bodies).toEqual(['first']));
      await broker.publish(task('second'));
      await eventually(() => expect(got.bodies).toEqual(['first', 'second']));
    },
    timeout,
  );

  it(
    'never holds more than concurrency + prefetch unsettled deliveries',
    async () => {
      const h = harness();
      const broker = await h.make();
      await broker.publishMany(Array.from({ length: 12 }, (_, i) => task(`t${i}`)));
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 2, prefetch: 1 });
      await eventually(() => expect(got.deliveries).toHaveLength(3));
      await observeFor(300);
      expect(got.deliveries).toHaveLength(3);
      await nth(got, 0).ack();
      await eventually(() => expect(got.deliveries).toHaveLength(4));
      await observeFor(200);
      expect(got.deliveries).toHaveLength(4);
    },
    timeout,
  );

  it(
    'hands each message to one consumer only while consumers on two connections race for a queue',
    async () => {
      const h = harness();
      const first = await h.make();
      const second = await h.make();
      const seen: Delivery[] = [];
      let acking = false;
      // Four consumers of three slots each, two per connection: twelve deliveries are held at once.
      for (const broker of [first, second, first, second]) {
        const consumer = await broker.consume(
          broker.defaultQueue,
          (d) => {
            seen.push(d);
            if (acking) void d.ack();
          },
          { concurrency: 3, prefetch: 0 },
        );
        h.closer.add({ close: () => consumer.stop() });
      }
      await first.publishMany(Array.from({ length: 30 }, (_, i) => task(`race${i}`)));
      await eventually(() => expect(seen).toHaveLength(12), { timeoutMs: 10_000 });
      await observeFor(300);
      const held = seen.map((d) => d.signature.uuid);
      // A claim that is not atomic hands one message to two consumers: the same UUID twice.
      expect(new Set(held).size).toBe(held.length);
      expect(held).toHaveLength(12);
      acking = true;
      const settled = await Promise.all([...seen].map((d) => d.ack()));
      expect(settled.every(Boolean)).toBe(true);
      await eventually(() => expect(new Set(seen.map((d) => d.signature.uuid)).size).toBe(30), {
        timeoutMs: 10_000,
      });
      await observeFor(200);
      expect(seen).toHaveLength(30);
      expect(seen.every((d) => d.attempt === 1)).toBe(true);
    },
    timeout,
  );
});
