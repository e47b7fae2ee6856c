import type { Consumer, Delivery } from '@machinery/core';
import { expect, it } from 'vitest';
import { deferred, eventually, observeFor } from '../helpers.js';
import { collect, defineGroup, task } from './group.js';

/** Lifecycle: `stop()` and `close()` end deliveries for good; what was not delivered goes to others. */
export const lifecycle = defineGroup('lifecycle', ({ harness, timeout }) => {
  it(
    'stops delivering after the consumer is stopped, and another consumer gets the task',
    async () => {
      const h = harness();
      const broker = await h.make();
      const seen: Delivery[] = [];
      const consumer = await broker.consume(broker.defaultQueue, (d) => seen.push(d), {
        concurrency: 1,
        prefetch: 0,
      });
      await consumer.stop();
      await broker.publish(task('later'));
      await observeFor(300);
      expect(seen).toHaveLength(0);
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      await eventually(() => expect(got.bodies).toEqual(['later']));
    },
    timeout,
  );

  it(
    'delivers nothing once stop() resolved, even when stopped mid-stream; the rest goes to another consumer',
    async () => {
      const h = harness();
      const broker = await h.make();
      const total = 60;
      await broker.publishMany(Array.from({ length: total }, (_, i) => task(`stream${i}`)));
      const seen: Delivery[] = [];
      let late = 0;
      let stopped = false;
      const consumerReady = deferred<Consumer>();
      const stopping = deferred();
      const consumer = await broker.consume(
        broker.defaultQueue,
        (d) => {
          if (stopped) late++;
          seen.push(d);
          // Stopped from inside the stream, while other deliveries may be on their way.
          if (seen.length === 10) {
            void consumerReady.promise
              .then((c) => c.stop())
              .then(() => {
                stopped = true;
                stopping.resolve();
              }, stopping.reject);
          }
          void d.ack();
        },
        { concurrency: 4, prefetch: 2 },
      );
      consumerReady.resolve(consumer);
      h.closer.add({ close: () => consumer.stop() });
      await stopping.promise;
      const atStop = seen.length;
      await observeFor(300);
      expect(late).toBe(0);
      expect(seen).toHaveLength(atStop);
      const rest = await collect(h, broker, broker.defaultQueue, { concurrency: 10, ack: true });
      await eventually(
        () => expect(new Set([...seen, ...rest.deliveries].map((d) => d.signature.uuid)).size).toBe(total),
        { timeoutMs: 10_000 },
      );
    },
    timeout,
  );

  it(
    'close() ends its consumers: they get nothing afterwards, and the tasks go to a live consumer first time',
    async () => {
      const h = harness();
      const closing = await h.make();
      const dead = await collect(h, closing, closing.defaultQueue, { concurrency: 2, ack: true });
      await closing.close();
      const live = await h.make();
      await live.publishMany(Array.from({ length: 10 }, (_, i) => task(`after_close${i}`)));
      const got = await collect(h, live, live.defaultQueue, { concurrency: 2, ack: true });
      await eventually(() => expect(new Set(got.bodies).size).toBe(10), {
        timeoutMs: h.ctx.redeliveryTimeoutMs + 10_000,
      });
      expect(dead.deliveries).toHaveLength(0);
      // A closed broker still polling would take tasks it can never settle: they would come back later.
      expect(got.deliveries.map((d) => d.attempt)).toEqual(Array(10).fill(1));
      await closing.close();
    },
    timeout,
  );
});
