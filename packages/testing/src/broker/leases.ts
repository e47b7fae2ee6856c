import type { Delivery } from '@machinery/core';
import { expect, it } from 'vitest';
import { eventually, observeFor } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

/** How many redelivery timeouts a test holds a delivery unsettled to show its lease is kept alive. */
const HELD_FOR_TIMEOUTS = 3;

/**
 * Leases and redelivery: the broker keeps an unsettled delivery's lease alive while its broker instance
 * is open (the Worker never calls `extendLease`); after `close()` the task comes back, and the old
 * delivery can no longer settle it.
 */
export const leases = defineGroup('leases & redelivery', ({ harness, timeout }) => {
  it(
    'keeps an unsettled delivery leased while its consumer runs: a second consumer never gets it',
    async () => {
      const h = harness();
      const holder = await h.make();
      const held = await collect(h, holder, holder.defaultQueue);
      await holder.publish(task('long_running'));
      await eventually(() => expect(held.deliveries).toHaveLength(1));
      const other = await h.make();
      const rival = await collect(h, other, other.defaultQueue);
      // A long task: several redelivery timeouts pass with the delivery unsettled and no extendLease call.
      await observeFor(h.ctx.redeliveryTimeoutMs * HELD_FOR_TIMEOUTS + 500);
      expect(rival.deliveries).toHaveLength(0);
      expect(held.deliveries).toHaveLength(1);
      expect(await nth(held, 0).ack()).toBe(true);
      await observeFor(200);
      expect(rival.deliveries).toHaveLength(0);
    },
    timeout,
  );

  it(
    'keeps the lease after its consumer stopped, until the delivery is settled',
    async () => {
      const h = harness();
      const holder = await h.make();
      const held: Delivery[] = [];
      const consumer = await holder.consume(holder.defaultQueue, (d) => held.push(d), {
        concurrency: 1,
        prefetch: 0,
      });
      await holder.publish(task('finishing'));
      await eventually(() => expect(held).toHaveLength(1));
      // A stopping Worker stops fetching, then waits for its running tasks: their deliveries stay valid.
      await consumer.stop();
      const other = await h.make();
      const rival = await collect(h, other, other.defaultQueue);
      await observeFor(h.ctx.redeliveryTimeoutMs * HELD_FOR_TIMEOUTS + 500);
      expect(rival.deliveries).toHaveLength(0);
      expect(await (held[0] as Delivery).ack()).toBe(true);
      await observeFor(200);
      expect(rival.deliveries).toHaveLength(0);
    },
    timeout,
  );

  it(
    'redelivers a task whose consumer went away before acknowledging it',
    async () => {
      const h = harness();
      const crashed = await h.make();
      const got = await collect(h, crashed, crashed.defaultQueue);
      await crashed.publish(task('survivor'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      await crashed.close();
      const healthy = await h.make();
      const again = await collect(h, healthy, healthy.defaultQueue);
      await eventually(() => expect(again.deliveries).toHaveLength(1), {
        timeoutMs: h.ctx.redeliveryTimeoutMs + 10_000,
      });
      const d = nth(again, 0);
      expect(d.signature.uuid).toBe(nth(got, 0).signature.uuid);
      expect(d.redelivered).toBe(true);
      expect(d.token).not.toBe(nth(got, 0).token);
      expect(await d.ack()).toBe(true);
    },
    timeout,
  );

  it(
    'fences a crashed consumer: its delivery cannot settle the task another consumer now holds',
    async () => {
      const h = harness();
      const crashed = await h.make();
      const got = await collect(h, crashed, crashed.defaultQueue);
      await crashed.publish(task('fenced'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      const stale = nth(got, 0);
      await crashed.close();
      const healthy = await h.make();
      const again = await collect(h, healthy, healthy.defaultQueue);
      await eventually(() => expect(again.deliveries).toHaveLength(1), {
        timeoutMs: h.ctx.redeliveryTimeoutMs + 10_000,
      });
      const current = nth(again, 0);
      expect(current.token).not.toBe(stale.token);
      // An ack that ignores the lease token would remove the task the healthy consumer is running.
      expect(await stale.ack()).toBe(false);
      expect(await stale.nack({ requeue: true })).toBe(false);
      expect(await stale.extendLease?.(5000)).not.toBe(true);
      await observeFor(200);
      expect(again.deliveries).toHaveLength(1);
      expect(await current.ack()).toBe(true);
    },
    timeout,
  );

  it(
    'extends a held lease, and refuses once the delivery is settled',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.leaseRenewal, 'broker declares no lease renewal');
      const got = await collect(h, broker, broker.defaultQueue);
      await broker.publish(task('long'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      const d = nth(got, 0);
      expect(await d.extendLease?.(5000)).toBe(true);
      await d.ack();
      expect(await d.extendLease?.(5000)).toBe(false);
    },
    timeout,
  );
});
