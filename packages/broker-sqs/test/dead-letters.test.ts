import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { type Delivery, decodeSignature, type Signature, signature } from '@machinery/core';
import { eventually, observeFor } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import { admin, collect, injectRaw, makeBroker, useTestContext } from './sqs.js';

const current = useTestContext();

function task(name: string): Signature {
  return signature(name, [], { headers: {} });
}

describe('SqsBroker dead letters', () => {
  it('moves a message received more than maxReceiveCount times to the dead-letter queue, with the reason', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx, { maxReceiveCount: 2 }));
    const got = await collect(t, broker, broker.defaultQueue);
    await broker.publish(task('crashes_every_time'));
    // A consumer that never settles properly: it gives the message back every time.
    await eventually(async () => {
      const last = got.deliveries.at(-1) as Delivery;
      expect(last).toBeDefined();
      await last.nack({ requeue: true });
      const dead = await broker.deadLetters();
      expect(dead).toHaveLength(1);
    });
    expect(got.deliveries).toHaveLength(2);
    const [dead] = await broker.deadLetters();
    expect(dead?.reason).toMatch(/received 3 times without being acknowledged \(maxReceiveCount 2\)/);
    expect(dead?.queue).toBe(broker.defaultQueue);
    expect(decodeSignature(dead?.body as string).name).toBe('crashes_every_time');
    await observeFor(500);
    expect(got.deliveries).toHaveLength(2);
  });

  it('lists messages an SQS redrive policy moved, without removing them', async () => {
    const t = current();
    const queue = `${t.ctx.namespace}_tasks`;
    const dlq = await admin.send(new CreateQueueCommand({ QueueName: `${queue}-dead` }));
    const attrs = await admin.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await admin.send(
      new CreateQueueCommand({
        QueueName: queue,
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: attrs.Attributes?.QueueArn,
            maxReceiveCount: 1,
          }),
        },
      }),
    );
    const broker = t.closer.add(makeBroker(t.ctx));
    const got = await collect(t, broker, queue);
    await broker.publish(task('redriven'));
    await eventually(() => expect(got.deliveries).toHaveLength(1));
    await (got.deliveries[0] as Delivery).nack({ requeue: true });
    const dead = await eventually(async () => {
      const list = await broker.deadLetters();
      expect(list).toHaveLength(1);
      return list;
    });
    expect(dead[0]?.reason).toMatch(/redrive policy/);
    expect(dead[0]?.queue).toBe(queue);
    // Listing gave them back: a second listing sees the same.
    expect(await broker.deadLetters()).toHaveLength(1);
    expect(got.deliveries).toHaveLength(1);
  });

  it('dead-letters undecodable messages with the decoder’s reason and requeues them on request', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx));
    const got = await collect(t, broker, broker.defaultQueue, { ack: true });
    await injectRaw(t.ctx, broker.defaultQueue, 'not json at all');
    await broker.publish(task('after'));
    await eventually(() => expect(got.deliveries.map((d) => d.signature.name)).toEqual(['after']));
    const dead = await eventually(async () => {
      const list = await broker.deadLetters();
      expect(list).toHaveLength(1);
      return list;
    });
    expect(dead[0]?.reason).toMatch(/^Undecodable message: /);
    expect(dead[0]?.at).toBeInstanceOf(Date);
    // Requeued, it is dead-lettered again (still undecodable) — once per requeue, never a loop.
    expect(await broker.requeueDeadLetters()).toBe(1);
    await eventually(async () => expect(await broker.deadLetters()).toHaveLength(1));
    expect(got.deliveries).toHaveLength(1);
  });

  it('uses one dead-letter queue for every queue when deadLetterQueue is a name', async () => {
    const t = current();
    const shared = `${t.ctx.namespace}_graveyard`;
    const broker = t.closer.add(makeBroker(t.ctx, { deadLetterQueue: shared }));
    const other = `${t.ctx.namespace}_other`;
    const a = await collect(t, broker, broker.defaultQueue);
    const b = await collect(t, broker, other);
    await broker.publish(task('from_default'));
    await broker.publish({ ...task('from_other'), routingKey: other });
    await eventually(() => expect(a.deliveries.length + b.deliveries.length).toBe(2));
    await (a.deliveries[0] as Delivery).nack({ requeue: false, reason: 'a' });
    await (b.deliveries[0] as Delivery).nack({ requeue: false, reason: 'b' });
    const dead = await eventually(async () => {
      const list = await broker.deadLetters();
      expect(list).toHaveLength(2);
      return list;
    });
    expect(dead.map((d) => `${d.queue}:${d.reason}`).sort()).toEqual(
      [`${broker.defaultQueue}:a`, `${other}:b`].sort(),
    );
    expect(await broker.requeueDeadLetters()).toBe(2);
    await eventually(() => {
      expect(a.deliveries.map((d) => d.signature.name)).toEqual(['from_default', 'from_default']);
      expect(b.deliveries.map((d) => d.signature.name)).toEqual(['from_other', 'from_other']);
    });
  });
});
