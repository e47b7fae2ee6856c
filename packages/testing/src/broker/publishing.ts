import { encodeSignatureCompact, isMachineryError } from '@machinery/core';
import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

/** Publishing: delivery unchanged, routing by routing key, bulk publish, size limit. */
export const publishing = defineGroup('publishing', ({ harness, timeout }) => {
  it(
    'publishes a task and delivers it unchanged, with the routing key defaulted',
    async () => {
      const h = harness();
      const broker = await h.make();
      const got = await collect(h, broker, broker.defaultQueue);
      const sig = task('echo', [1, 'two', [3, 4], true, 2n ** 60n]);
      await broker.publish(sig);
      expect(sig.routingKey).toBe(broker.defaultQueue);
      await eventually(() => expect(got.deliveries).toHaveLength(1));
      const d = nth(got, 0);
      // Compared in the compact form: brokers may write either form, which differ only in zero values.
      // SQS brokers set SQSReceiptHandle on delivery, as Go does; everything else arrives unchanged.
      expect(encodeSignatureCompact({ ...d.signature, sqsReceiptHandle: '' })).toBe(
        encodeSignatureCompact(sig),
      );
      expect(d.queue).toBe(broker.defaultQueue);
      expect(d.attempt).toBe(1);
      expect(d.redelivered).toBe(false);
      expect(typeof d.token).toBe('string');
      expect(await d.ack()).toBe(true);
    },
    timeout,
  );

  it(
    'routes by routing key: a consumer of one queue never sees another queue’s tasks',
    async () => {
      const h = harness();
      const broker = await h.make();
      const other = `${broker.defaultQueue}_other`;
      const main = await collect(h, broker, broker.defaultQueue, { ack: true });
      const side = await collect(h, broker, other, { ack: true });
      await broker.publish(task('to_other', [], { routingKey: other }));
      await broker.publish(task('to_main'));
      await eventually(() => {
        expect(main.bodies).toEqual(['to_main']);
        expect(side.bodies).toEqual(['to_other']);
      });
    },
    timeout,
  );

  it(
    'publishes many tasks at once',
    async () => {
      const h = harness();
      const broker = await h.make();
      const got = await collect(h, broker, broker.defaultQueue, { concurrency: 10, ack: true });
      await broker.publishMany(Array.from({ length: 50 }, (_, i) => task(`bulk${i}`)));
      await eventually(() => expect(new Set(got.bodies).size).toBe(50));
    },
    timeout,
  );

  it(
    'publishMany is all-or-none when one message cannot be encoded',
    async (t) => {
      const h = harness();
      const broker = await h.make();
      t.skip(!broker.capabilities.atomicBulkPublish, 'broker declares no atomic bulk publish');
      const bad = task('bad');
      bad.args = [{ name: '', type: 'float64', value: Number.NaN }];
      await expect(broker.publishMany([task('good1'), bad, task('good2')])).rejects.toThrow();
      const got = await collect(h, broker, broker.defaultQueue, { ack: true });
      await broker.publish(task('marker'));
      await eventually(() => expect(got.bodies).toContain('marker'));
      expect(got.bodies).toEqual(['marker']);
    },
    timeout,
  );

  it(
    'refuses an oversized message with ERR_PAYLOAD_TOO_LARGE',
    async () => {
      const h = harness();
      const broker = await h.make();
      let caught: unknown;
      try {
        await broker.publish(task('huge', ['x'.repeat(8 * 1024 * 1024)]));
      } catch (err) {
        caught = err;
      }
      expect(isMachineryError(caught, 'ERR_PAYLOAD_TOO_LARGE')).toBe(true);
    },
    timeout,
  );
});
