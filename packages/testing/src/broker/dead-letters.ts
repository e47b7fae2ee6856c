import { decodeSignature } from '@machinery/core';
import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

/** Dead letters: a rejected task is kept with its reason and can be requeued. */
export const deadLetters = defineGroup('dead letters', ({ harness, timeout }) => {
  it(
    'dead-letters a rejected task with its reason and can requeue it',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.deadLetterInspection, 'broker declares no dead-letter inspection');
      const got = await collect(h, broker, broker.defaultQueue);
      await broker.publish(task('poison'));
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      await nth(got, 0).nack({ requeue: false, reason: 'cannot be helped' });
      const dead = await eventually(async () => {
        const list = await broker.deadLetters();
        expect(list).toHaveLength(1);
        return list;
      });
      expect(dead[0]?.reason).toBe('cannot be helped');
      expect(decodeSignature(dead[0]?.body as string).name).toBe('poison');
      expect(await broker.requeueDeadLetters()).toBe(1);
      await eventually(() => expect(got.deliveries).toHaveLength(2));
      expect(nth(got, 1).signature.name).toBe('poison');
      await nth(got, 1).ack();
      expect(await broker.deadLetters()).toHaveLength(0);
    },
    timeout,
  );
});
