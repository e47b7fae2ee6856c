import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

const NO_PRIORITIES = 'broker declares no priorities';

/**
 * Priorities: a higher `priority` is delivered first, tasks of one priority in publish order, a
 * requeued task keeps its priority, and inspection and purge see every priority. The priorities used
 * stay within 0–9, which every broker that declares the capability is expected to distinguish.
 */
export const priorities = defineGroup('priorities', ({ harness, timeout }) => {
  it(
    'delivers higher priority first',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.priorities, NO_PRIORITIES);
      await broker.publish(task('low', [], { priority: 1 }));
      await broker.publish(task('high', [], { priority: 9 }));
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      await eventually(() => expect(got.bodies).toEqual(['high', 'low']));
    },
    timeout,
  );

  it(
    'delivers every priority highest first, and tasks of one priority in publish order',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.priorities, NO_PRIORITIES);
      await broker.publishMany([
        task('a0'),
        task('b5', [], { priority: 5 }),
        task('c0'),
        task('d9', [], { priority: 9 }),
      ]);
      await broker.publish(task('e5', [], { priority: 5 }));
      await broker.publish(task('f0'));
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 1, ack: true });
      await eventually(() => expect(got.bodies).toEqual(['d9', 'b5', 'e5', 'a0', 'c0', 'f0']));
    },
    timeout,
  );

  it(
    'keeps the priority of a requeued task: it comes back before lower ones',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.priorities, NO_PRIORITIES);
      await broker.publishMany([task('low1'), task('low2'), task('high', [], { priority: 7 })]);
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 1 });
      await eventually(() => expect(got.bodies).toEqual(['high']));
      expect(await nth(got, 0).nack({ requeue: true })).toBe(true);
      await eventually(() => expect(got.bodies).toEqual(['high', 'high']));
      expect(nth(got, 1).attempt).toBe(2);
      for (let i = 1; i <= 3; i++) {
        await eventually(() => expect(got.bodies.length).toBeGreaterThan(i));
        expect(await nth(got, i).ack()).toBe(true);
      }
      expect(got.bodies).toEqual(['high', 'high', 'low1', 'low2']);
    },
    timeout,
  );

  it(
    'an idle consumer notices a new task of any priority',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.priorities, NO_PRIORITIES);
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      // Published one after the other, each once the consumer had nothing left: an idle consumer must
      // notice tasks of every priority, not only those of the default one.
      await broker.publish(task('first', [], { priority: 3 }));
      await eventually(() => expect(got.bodies).toEqual(['first']));
      await broker.publish(task('second'));
      await eventually(() => expect(got.bodies).toEqual(['first', 'second']));
      await broker.publishMany([task('third', [], { priority: 8 })]);
      await eventually(() => expect(got.bodies).toEqual(['first', 'second', 'third']));
    },
    timeout,
  );

  it(
    'lists and purges the waiting tasks of every priority',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.priorities, NO_PRIORITIES);
      const sigs = [task('p0'), task('p4', [], { priority: 4 }), task('p9', [], { priority: 9 })];
      await broker.publishMany(sigs);
      if (broker.capabilities.pendingInspection) {
        const pending = await eventually(async () => {
          const p = await broker.pendingTasks(broker.defaultQueue);
          expect(p).toHaveLength(3);
          return p;
        });
        expect(pending.map((s) => s.uuid).sort()).toEqual(sigs.map((s) => s.uuid).sort());
        expect(pending.find((s) => s.name === 'p9')?.priority).toBe(9);
      }
      if (broker.capabilities.purge?.pending && broker.purge) {
        expect(await broker.purge(broker.defaultQueue, { pending: true })).toEqual({
          pending: 3,
          delayed: 0,
          deadLetters: 0,
        });
        if (broker.capabilities.pendingInspection) {
          expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(0);
        }
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        await broker.publish(task('after', [], { priority: 2 }));
        await eventually(() => expect(got.bodies).toEqual(['after']));
      }
    },
    timeout,
  );
});
