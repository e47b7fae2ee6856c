import {
  type Broker,
  isMachineryError,
  type PurgeCounts,
  type PurgeOptions,
  type PurgeSupport,
} from '@machinery/core';
import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

/** The broker's purge, or a failed test when it declares `capabilities.purge` without the method. */
function purgeOf(broker: Broker): (queue: string, options: PurgeOptions) => Promise<PurgeCounts> {
  const purge = broker.purge;
  if (typeof purge !== 'function') {
    throw new Error('The broker declares capabilities.purge but has no purge() method.');
  }
  return (queue, options) => purge.call(broker, queue, options);
}

/** Why a test of `part` is skipped, or `false` when the broker purges that part. */
function lacks(broker: Broker, part: keyof PurgeSupport): string | false {
  const support = broker.capabilities.purge;
  if (!support) return 'broker declares no purge';
  return support[part] ? false : `broker declares it cannot purge ${part}`;
}

/** A minute ahead: far enough that no delayed task of a test comes due while it runs. */
const later = () => new Date(Date.now() + 60_000);

/**
 * Purge: removes a queue's pending tasks, delayed tasks or dead letters — that queue's only —
 * reports how many, never removes a task a worker holds, and leaves the broker working.
 */
export const purge = defineGroup('purge', ({ harness, timeout }) => {
  it(
    'purges the pending tasks of one queue, reports how many, and leaves other queues alone',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      const skip = lacks(broker, 'pending');
      t.skip(skip !== false, skip || '');
      const other = `${broker.defaultQueue}_other`;
      await broker.publishMany([task('p1'), task('p2'), task('p3'), task('o1', [], { routingKey: other })]);
      await broker.publish(task('o2', [], { routingKey: other }));
      if (broker.capabilities.pendingInspection) {
        await eventually(async () => expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(3));
      }

      expect(await purgeOf(broker)(broker.defaultQueue, { pending: true })).toEqual({
        pending: 3,
        delayed: 0,
        deadLetters: 0,
      });

      if (broker.capabilities.pendingInspection) {
        expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(0);
        expect(await broker.pendingTasks(other)).toHaveLength(2);
      }
      const side = await collect(h, broker, other, { ack: true });
      await eventually(() => expect([...side.bodies].sort()).toEqual(['o1', 'o2']), { timeoutMs: 10_000 });
      // The purged queue works as before: a new task arrives, and it is the only one.
      const main = await collect(h, broker, broker.defaultQueue, { ack: true });
      await broker.publish(task('after'));
      await eventually(() => expect(main.bodies).toContain('after'), { timeoutMs: 10_000 });
      expect(main.bodies).toEqual(['after']);
    },
    timeout,
  );

  it(
    'does not remove a task a worker holds: it can still be settled and comes back when requeued',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      const skip = lacks(broker, 'pending');
      t.skip(skip !== false, skip || '');
      await broker.publish(task('held'));
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 1, prefetch: 0 });
      await eventually(() => expect(got.bodies).toEqual(['held']), { timeoutMs: 10_000 });
      await broker.publishMany([task('w1'), task('w2')]);
      if (broker.capabilities.pendingInspection) {
        await eventually(async () => expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(2));
      }

      const removed = await purgeOf(broker)(broker.defaultQueue, { pending: true });
      expect(removed).toEqual({ pending: 2, delayed: 0, deadLetters: 0 });

      // The held task's lease survived the purge: requeueing it works and it is delivered again,
      // while the purged tasks never are.
      expect(await nth(got, 0).nack({ requeue: true })).toBe(true);
      await eventually(() => expect(got.bodies).toEqual(['held', 'held']), { timeoutMs: 10_000 });
      expect(await nth(got, 1).ack()).toBe(true);
      await broker.publish(task('after'));
      await eventually(() => expect(got.bodies).toEqual(['held', 'held', 'after']), { timeoutMs: 10_000 });
      expect(await nth(got, 2).ack()).toBe(true);
    },
    timeout,
  );

  it(
    'purges the delayed tasks of one queue — delayed requeues included — and leaves the rest',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      const skip = lacks(broker, 'delayed');
      t.skip(skip !== false, skip || '');
      const other = `${broker.defaultQueue}_other`;
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 1 });
      await broker.publish(task('retry'));
      await eventually(() => expect(got.bodies).toEqual(['retry']), { timeoutMs: 10_000 });
      expect(await nth(got, 0).nack({ requeue: true, delayMs: 60_000 })).toBe(true);
      const mine = task('later', [], { eta: later() });
      const theirs = task('later_other', [], { eta: later(), routingKey: other });
      await broker.publishMany([mine, theirs]);
      if (broker.capabilities.delayedInspection) {
        await eventually(async () => expect(await broker.delayedTasks()).toHaveLength(3));
      }

      expect(await purgeOf(broker)(broker.defaultQueue, { delayed: true })).toEqual({
        pending: 0,
        delayed: 2,
        deadLetters: 0,
      });

      if (broker.capabilities.delayedInspection) {
        expect((await broker.delayedTasks()).map((s) => s.uuid)).toEqual([theirs.uuid]);
      }
      // Pending tasks were not asked for and stay; the queue works as before.
      await broker.publish(task('now'));
      await eventually(() => expect(got.bodies).toEqual(['retry', 'now']), { timeoutMs: 10_000 });
      expect(await nth(got, 1).ack()).toBe(true);
    },
    timeout,
  );

  it(
    'purges the dead letters of one queue and leaves those of other queues',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      const skip = lacks(broker, 'deadLetters');
      t.skip(skip !== false, skip || '');
      const other = `${broker.defaultQueue}_other`;
      const main = await collect(h, broker, broker.defaultQueue, { concurrency: 2 });
      const side = await collect(h, broker, other);
      await broker.publishMany([
        task('poison1'),
        task('poison2'),
        task('poison_other', [], { routingKey: other }),
      ]);
      await eventually(() => expect(main.deliveries.length + side.deliveries.length).toBe(3), {
        timeoutMs: 10_000,
      });
      for (const d of [...main.deliveries, ...side.deliveries]) {
        expect(await d.nack({ requeue: false, reason: 'purge test' })).toBe(true);
      }
      if (broker.capabilities.deadLetterInspection) {
        await eventually(async () => expect(await broker.deadLetters()).toHaveLength(3), {
          timeoutMs: 10_000,
        });
      }

      expect(await purgeOf(broker)(broker.defaultQueue, { deadLetters: true })).toEqual({
        pending: 0,
        delayed: 0,
        deadLetters: 2,
      });

      if (broker.capabilities.deadLetterInspection) {
        const left = await broker.deadLetters();
        expect(left.map((d) => d.queue)).toEqual([other]);
        expect(await broker.requeueDeadLetters()).toBe(1);
        await eventually(() => expect(side.bodies).toEqual(['poison_other', 'poison_other']), {
          timeoutMs: 10_000,
        });
      }
      await broker.publish(task('after'));
      await eventually(() => expect(main.bodies).toContain('after'), { timeoutMs: 10_000 });
    },
    timeout,
  );

  it(
    'removes every part asked for in one call, and the task a worker holds stays',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      const support = broker.capabilities.purge;
      t.skip(!support, 'broker declares no purge');
      if (!support) return;
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 1 });
      await broker.publish(task('poison'));
      await eventually(() => expect(got.bodies).toEqual(['poison']), { timeoutMs: 10_000 });
      expect(await nth(got, 0).nack({ requeue: false, reason: 'purge test' })).toBe(true);
      // The consumer's one slot stays busy with 'held', so what follows waits in the queue.
      await broker.publish(task('held'));
      await eventually(() => expect(got.bodies).toEqual(['poison', 'held']), { timeoutMs: 10_000 });
      await broker.publishMany([task('w1'), task('w2'), task('d1', [], { eta: later() })]);
      if (broker.capabilities.pendingInspection) {
        await eventually(async () => expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(2));
      }
      if (broker.capabilities.deadLetterInspection) {
        await eventually(async () => expect(await broker.deadLetters()).toHaveLength(1), {
          timeoutMs: 10_000,
        });
      }

      const asked: PurgeOptions = {
        pending: support.pending,
        delayed: support.delayed,
        deadLetters: support.deadLetters,
      };
      expect(await purgeOf(broker)(broker.defaultQueue, asked)).toEqual({
        pending: support.pending ? 2 : 0,
        delayed: support.delayed ? 1 : 0,
        deadLetters: support.deadLetters ? 1 : 0,
      });

      if (support.pending && broker.capabilities.pendingInspection) {
        expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(0);
      }
      if (support.delayed && broker.capabilities.delayedInspection) {
        expect(await broker.delayedTasks()).toHaveLength(0);
      }
      if (support.deadLetters && broker.capabilities.deadLetterInspection) {
        expect(await broker.deadLetters()).toHaveLength(0);
      }
      expect(await nth(got, 1).ack()).toBe(true);
    },
    timeout,
  );

  it(
    'rejects a purge with nothing to remove, or with a part the broker cannot remove, and removes nothing',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      const support = broker.capabilities.purge;
      t.skip(!support, 'broker declares no purge');
      if (!support) return;
      await broker.publish(task('kept'));
      const run = purgeOf(broker);
      const invalid = (err: unknown) => isMachineryError(err, 'ERR_INVALID_ARGUMENT');
      await expect(run(broker.defaultQueue, {})).rejects.toSatisfy(invalid);
      await expect(run('', { pending: true })).rejects.toSatisfy(invalid);
      for (const part of ['pending', 'delayed', 'deadLetters'] as const) {
        if (support[part]) continue;
        await expect(run(broker.defaultQueue, { pending: true, [part]: true })).rejects.toSatisfy(invalid);
      }
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      await eventually(() => expect(got.bodies).toEqual(['kept']), { timeoutMs: 10_000 });
    },
    timeout,
  );
});
