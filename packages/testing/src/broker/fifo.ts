import { expect, it } from 'vitest';
import { eventually, observeFor } from '../helpers.js';
import { collect, defineGroup, task } from './group.js';

/** FIFO message groups: one group's tasks in publish order, one at a time; other groups go on. */
export const fifo = defineGroup('FIFO groups', ({ harness, options, timeout }) => {
  it(
    'delivers a message group in order, one task at a time, while other groups go on',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.fifoGroups, 'broker declares no FIFO groups');
      const queue = options.fifoQueue?.(h.ctx) ?? broker.defaultQueue;
      await broker.publishMany([
        ...Array.from({ length: 3 }, (_, i) =>
          task(`a${i}`, [], { routingKey: queue, brokerMessageGroupId: 'a' }),
        ),
        task('b0', [], { routingKey: queue, brokerMessageGroupId: 'b' }),
      ]);
      const got = await collect(h, broker, queue, { concurrency: 5 });
      await eventually(() => expect([...got.bodies].sort()).toEqual(['a0', 'b0']), { timeoutMs: 10_000 });
      // a1 waits while a0 is in flight, although slots are free.
      await observeFor(300);
      expect(got.deliveries).toHaveLength(2);
      for (const step of [1, 2]) {
        const current = got.deliveries.find((d) => d.signature.name === `a${step - 1}`);
        expect(await current?.ack()).toBe(true);
        await eventually(() => expect(got.bodies).toContain(`a${step}`), { timeoutMs: 10_000 });
      }
      expect(got.bodies.filter((name) => name.startsWith('a'))).toEqual(['a0', 'a1', 'a2']);
      // The rest (a2, b0) is settled so the queue is left empty; a0 and a1 answer false.
      await Promise.all(got.deliveries.map((d) => d.ack()));
    },
    timeout,
  );
});
