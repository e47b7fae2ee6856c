import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

/** Delays: ETA honoured (never early), every due task moved at once, delayed requeue. */
export const delays = defineGroup('delays', ({ harness, timeout }) => {
  it(
    'delays a task until its ETA',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(
        !broker.capabilities.delays,
        'broker declares no native delays (the Worker re-delays early tasks)',
      );
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      const eta = new Date(Date.now() + 1200);
      await broker.publish(task('later', [], { eta }));
      await broker.publish(task('now'));
      await eventually(() => expect(got.bodies).toEqual(['now']));
      await eventually(() => expect(got.bodies).toEqual(['now', 'later']), { timeoutMs: 10_000 });
      // Not early (a 50 ms allowance for clock granularity between the broker and this process).
      expect(got.at[1] as number).toBeGreaterThanOrEqual(eta.getTime() - 50);
    },
    timeout,
  );

  it(
    'moves every due delayed task at once, each to its own queue',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.delays, 'broker declares no native delays');
      const other = `${broker.defaultQueue}_delayed_other`;
      const main = await collect(h, broker, broker.defaultQueue, { concurrency: 20, ack: true });
      const side = await collect(h, broker, other, { concurrency: 20, ack: true });
      const eta = new Date(Date.now() + 500);
      await broker.publishMany([
        ...Array.from({ length: 15 }, (_, i) => task(`d${i}`, [], { eta })),
        ...Array.from({ length: 5 }, (_, i) => task(`o${i}`, [], { eta, routingKey: other })),
      ]);
      await eventually(
        () => {
          expect(main.bodies).toHaveLength(15);
          expect(side.bodies).toHaveLength(5);
        },
        { timeoutMs: 10_000 },
      );
    },
    timeout,
  );

  it(
    'delays a requeue when nack asks for a delay',
    async () => {
      const h = harness();
      const broker = await h.make();
      const got = await collect(h, broker, broker.defaultQueue);
      await broker.publish(task('slow'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      const nackedAt = Date.now();
      await nth(got, 0).nack({ requeue: true, delayMs: 1000 });
      await eventually(() => expect(got.deliveries).toHaveLength(2), { timeoutMs: 10_000 });
      expect((got.at[1] as number) - nackedAt).toBeGreaterThanOrEqual(950);
      await nth(got, 1).ack();
    },
    timeout,
  );
});
