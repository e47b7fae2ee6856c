import type { Delivery } from '@machinery/core';
import { expect, it } from 'vitest';
import { eventually, observeFor } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

/** Settlement: nack requeues and counts attempts; a delivery settles once, whatever races it. */
export const settlement = defineGroup('settlement', ({ harness, timeout }) => {
  it(
    'requeues a nacked task and counts the delivery attempt',
    async () => {
      const h = harness();
      const broker = await h.make();
      const got = await collect(h, broker, broker.defaultQueue);
      await broker.publish(task('again'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      expect(await nth(got, 0).nack({ requeue: true })).toBe(true);
      await eventually(() => expect(got.deliveries).toHaveLength(2));
      const second = nth(got, 1);
      expect(second.signature.uuid).toBe(nth(got, 0).signature.uuid);
      expect(second.attempt).toBe(2);
      expect(second.redelivered).toBe(true);
      await second.ack();
    },
    timeout,
  );

  it(
    'settling twice is a harmless no-op that resolves false',
    async () => {
      const h = harness();
      const broker = await h.make();
      const got = await collect(h, broker, broker.defaultQueue);
      await broker.publish(task('once'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      const d = nth(got, 0);
      expect(await d.ack()).toBe(true);
      expect(await d.ack()).toBe(false);
      expect(await d.nack({ requeue: true })).toBe(false);
      expect(await d.nack({ requeue: false, reason: 'too late' })).toBe(false);
      await observeFor(200);
      expect(got.deliveries).toHaveLength(1);
      if (broker.capabilities.deadLetterInspection) expect(await broker.deadLetters()).toHaveLength(0);
    },
    timeout,
  );

  it(
    'settles once when acks and nacks race on one delivery: exactly one wins',
    async () => {
      const h = harness();
      const broker = await h.make();
      const got = await collect(h, broker, broker.defaultQueue);
      await broker.publish(task('contested'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      const d = nth(got, 0);
      // Not awaited one by one: a settle that checks the lease, then acts, lets both calls through.
      const outcomes = await Promise.all([
        d.nack({ requeue: true }),
        d.ack(),
        d.nack({ requeue: true }),
        d.ack(),
      ]);
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      // A winning nack requeues the task once; a winning ack removes it.
      const expected = outcomes[0] || outcomes[2] ? 2 : 1;
      await eventually(() => expect(got.deliveries).toHaveLength(expected));
      await observeFor(300);
      expect(got.deliveries).toHaveLength(expected);
      if (expected === 2) expect(await nth(got, 1).ack()).toBe(true);
    },
    timeout,
  );

  it(
    'a delivery settled by nack cannot settle its task again once another consumer holds it',
    async () => {
      const h = harness();
      const broker = await h.make();
      const other = await h.make();
      const first: Delivery[] = [];
      const consumer = await broker.consume(broker.defaultQueue, (d) => first.push(d), {
        concurrency: 1,
        prefetch: 0,
      });
      h.closer.add({ close: () => consumer.stop() });
      await broker.publish(task('handed_over'));
      await eventually(() => expect(first).toHaveLength(1));
      // The first consumer stops (its delivery stays valid), so the requeued task can only go to the other.
      await consumer.stop();
      const second = await collect(h, other, other.defaultQueue);
      const d1 = first[0] as Delivery;
      expect(await d1.nack({ requeue: true })).toBe(true);
      await eventually(() => expect(second.deliveries).toHaveLength(1));
      const d2 = nth(second, 0);
      expect(d2.signature.uuid).toBe(d1.signature.uuid);
      expect(d2.token).not.toBe(d1.token);
      // The stale delivery must not touch the task the other consumer now holds.
      expect(await d1.ack()).toBe(false);
      expect(await d1.nack({ requeue: true })).toBe(false);
      expect(await d1.nack({ requeue: false, reason: 'stale' })).toBe(false);
      await observeFor(200);
      expect(second.deliveries).toHaveLength(1);
      expect(first).toHaveLength(1);
      if (broker.capabilities.deadLetterInspection) expect(await broker.deadLetters()).toHaveLength(0);
      expect(await d2.ack()).toBe(true);
    },
    timeout,
  );
});
