import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { encodeForPublish, isMachineryError, type Signature, signature } from '@machinery/core';
import { describe, expect, it } from 'vitest';
import { SOURCE_QUEUE_ATTRIBUTE } from '../src/sqs-broker.js';
import { admin, injectRaw, inspectQueue, makeBroker, useTestContext } from './sqs.js';

const current = useTestContext();

function task(name: string, extra: Partial<Signature> = {}): Signature {
  return signature(name, [], { headers: {}, ...extra });
}

describe('SqsBroker: purge by receive and delete', () => {
  it('keeps a visible task whose ETA is still ahead (between two delay hops): it is delayed, not pending', async () => {
    const { ctx, closer } = current();
    const broker = closer.add(makeBroker(ctx));
    await broker.publish(task('now'));
    // What a hop leaves in the queue once its DelaySeconds ran out: a visible message, ETA ahead.
    const hopping = task('hopping', { eta: new Date(Date.now() + 3600_000) });
    await injectRaw(ctx, broker.defaultQueue, encodeForPublish(hopping, broker.defaultQueue).body);

    expect(await broker.purge(broker.defaultQueue, { pending: true })).toEqual({
      pending: 1,
      delayed: 0,
      deadLetters: 0,
    });

    const left = await inspectQueue(broker.defaultQueue);
    const bodies = [...left.ready, ...left.inflight.map((i) => i.message)].map((m) => m.body);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toContain(hopping.uuid);
  });

  it('purges from a shared dead-letter queue only the letters of the queue asked for', async () => {
    const { ctx, closer } = current();
    const shared = `${ctx.namespace}_dead`;
    const broker = closer.add(makeBroker(ctx, { deadLetterQueue: shared }));
    await admin.send(new CreateQueueCommand({ QueueName: shared }));
    const attr = (queue: string) => ({
      MessageAttributes: { [SOURCE_QUEUE_ATTRIBUTE]: { DataType: 'String', StringValue: queue } },
    });
    const other = `${ctx.namespace}_other`;
    await injectRaw(ctx, shared, 'mine', attr(broker.defaultQueue));
    await injectRaw(ctx, shared, 'theirs', attr(other));

    expect(await broker.purge(broker.defaultQueue, { deadLetters: true })).toEqual({
      pending: 0,
      delayed: 0,
      deadLetters: 1,
    });
    const left = await inspectQueue(shared);
    expect([...left.ready, ...left.inflight.map((i) => i.message)].map((m) => m.body)).toEqual(['theirs']);
  });

  it('refuses to purge delayed tasks, saying why, and removes nothing', async () => {
    const { ctx, closer } = current();
    const broker = closer.add(makeBroker(ctx));
    await broker.publish(task('kept'));
    const err = await broker
      .purge(broker.defaultQueue, { pending: true, delayed: true })
      .catch((e: unknown) => e);
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/cannot purge delayed tasks: SQS hides a delayed message/);
    expect((await inspectQueue(broker.defaultQueue)).ready).toHaveLength(1);
  });
});
