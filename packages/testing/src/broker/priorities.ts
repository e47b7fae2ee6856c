import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, task } from './group.js';

/** Priorities: a higher `priority` is delivered first. */
export const priorities = defineGroup('priorities', ({ harness, timeout }) => {
  it(
    'delivers higher priority first',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.priorities, 'broker declares no priorities');
      await broker.publish(task('low', [], { priority: 1 }));
      await broker.publish(task('high', [], { priority: 9 }));
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      await eventually(() => expect(got.bodies).toEqual(['high', 'low']));
    },
    timeout,
  );
});
