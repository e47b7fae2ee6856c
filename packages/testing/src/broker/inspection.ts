import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, task } from './group.js';

/** Inspection: pending tasks (waiting, not in flight) and delayed tasks, read without removing them. */
export const inspection = defineGroup('inspection', ({ harness, timeout }) => {
  it(
    'lists pending tasks oldest first without removing them',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.pendingInspection, 'broker declares no pending inspection');
      const sigs = [task('p1', [1]), task('p2', [2]), task('p3', [3])];
      for (const s of sigs) await broker.publish(s);
      const pending = await eventually(async () => {
        const p = await broker.pendingTasks(broker.defaultQueue);
        expect(p).toHaveLength(3);
        return p;
      });
      expect(pending.map((s) => s.uuid)).toEqual(sigs.map((s) => s.uuid));
      expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(3);
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      await eventually(() => expect(got.bodies).toEqual(['p1', 'p2', 'p3']));
      await eventually(async () => expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(0));
    },
    timeout,
  );

  it(
    'does not list a task in flight as pending',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.pendingInspection, 'broker declares no pending inspection');
      const sigs = [task('w1'), task('w2'), task('w3')];
      await broker.publishMany(sigs);
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 1 });
      await eventually(() => expect(got.bodies).toEqual(['w1']));
      // w1 is leased to the consumer: it is running, not waiting.
      await eventually(async () =>
        expect((await broker.pendingTasks(broker.defaultQueue)).map((s) => s.uuid)).toEqual(
          sigs.slice(1).map((s) => s.uuid),
        ),
      );
    },
    timeout,
  );

  it(
    'lists delayed tasks',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.delayedInspection, 'broker declares no delayed inspection');
      const sig = task('future', [], { eta: new Date(Date.now() + 60_000) });
      await broker.publish(sig);
      const delayed = await broker.delayedTasks();
      expect(delayed.map((s) => s.uuid)).toContain(sig.uuid);
    },
    timeout,
  );
});
