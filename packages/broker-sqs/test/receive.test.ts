import {
  ChangeMessageVisibilityCommand,
  GetQueueUrlCommand,
  type ReceiveMessageCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type Delivery, type Signature, signature } from '@machinery/core';
import { eventually, observeFor } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import { SqsBroker } from '../src/index.js';
import { admin, collect, connection, makeBroker, useTestContext } from './sqs.js';

const current = useTestContext();

function task(name: string): Signature {
  return signature(name, [], { headers: {} });
}

/** A real client that also records every ReceiveMessage request and how many messages it returned. */
function recordingClient(): {
  client: SQSClient;
  receives: { input: ReceiveMessageCommandInput; got: number }[];
} {
  const client = new SQSClient(connection);
  const receives: { input: ReceiveMessageCommandInput; got: number }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'ReceiveMessageCommand') {
        const out = result.output as { Messages?: unknown[] };
        receives.push({ input: args.input as ReceiveMessageCommandInput, got: out.Messages?.length ?? 0 });
      }
      return result;
    },
    { step: 'initialize', name: 'recordReceives' },
  );
  return { client, receives };
}

describe('SqsBroker receiving', () => {
  it('long polls and takes up to ten messages per request when that many slots are free', async () => {
    const t = current();
    const { client, receives } = recordingClient();
    t.closer.add({ close: () => client.destroy() });
    const broker = t.closer.add(makeBroker(t.ctx, { client }));
    await broker.publishMany(Array.from({ length: 25 }, (_, i) => task(`t${i}`)));
    const got = await collect(t, broker, broker.defaultQueue, { concurrency: 30, ack: true });
    await eventually(() => expect(got.deliveries).toHaveLength(25));
    expect(Math.max(...receives.map((r) => r.got))).toBe(10);
    expect(receives.every((r) => r.input.WaitTimeSeconds === 20)).toBe(true);
    expect(receives.every((r) => (r.input.MaxNumberOfMessages ?? 1) <= 10)).toBe(true);
    expect(receives.filter((r) => r.got > 0).length).toBeLessThanOrEqual(5);
  });

  it('asks for no more messages than free slots', async () => {
    const t = current();
    const { client, receives } = recordingClient();
    t.closer.add({ close: () => client.destroy() });
    const broker = t.closer.add(makeBroker(t.ctx, { client }));
    await broker.publishMany(Array.from({ length: 6 }, (_, i) => task(`t${i}`)));
    const got = await collect(t, broker, broker.defaultQueue, { concurrency: 2, prefetch: 1 });
    await eventually(() => expect(got.deliveries).toHaveLength(3));
    await (got.deliveries[0] as Delivery).ack();
    await eventually(() => expect(got.deliveries).toHaveLength(4));
    expect(receives[0]?.input.MaxNumberOfMessages).toBe(3);
    expect(receives.slice(1).every((r) => r.input.MaxNumberOfMessages === 1)).toBe(true);
  });

  it('does not spin on an empty queue when short polling (WaitTimeSeconds 0)', async () => {
    const t = current();
    const { client, receives } = recordingClient();
    t.closer.add({ close: () => client.destroy() });
    const broker = t.closer.add(makeBroker(t.ctx, { client, waitTimeSeconds: 0, emptyReceiveDelayMs: 300 }));
    await collect(t, broker, broker.defaultQueue);
    await observeFor(1000);
    // Go's loop would send hundreds of requests here.
    expect(receives.length).toBeGreaterThanOrEqual(2);
    expect(receives.length).toBeLessThanOrEqual(6);
  });

  it('consumes with concurrency 0 instead of deadlocking', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx));
    const got = await collect(t, broker, broker.defaultQueue, { concurrency: 0, ack: true });
    await broker.publish(task('still_runs'));
    await eventually(() => expect(got.deliveries).toHaveLength(1));
  });

  it('stops and closes promptly while a 20-second long poll is in flight', async () => {
    const t = current();
    const broker = makeBroker(t.ctx);
    const consumer = await broker.consume(broker.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 });
    await observeFor(200);
    const bounded = (p: Promise<void>) =>
      Promise.race([p.then(() => 'done'), observeFor(5000).then(() => 'hung')]);
    expect(await bounded(consumer.stop())).toBe('done');
    const again = await broker.consume(broker.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 });
    await observeFor(200);
    expect(await bounded(broker.close())).toBe('done');
    await again.stop();
  });

  it('keeps a held message invisible with the heartbeat for longer than the visibility timeout', async () => {
    const t = current();
    const holder = t.closer.add(makeBroker(t.ctx));
    const other = t.closer.add(makeBroker(t.ctx));
    const held = await collect(t, holder, holder.defaultQueue);
    await holder.publish(task('long_running'));
    await eventually(() => expect(held.deliveries).toHaveLength(1));
    const watcher = await collect(t, other, other.defaultQueue, { ack: true });
    // Three visibility timeouts of 1 s pass; the heartbeat keeps extending the lease.
    await observeFor(3000);
    expect(watcher.deliveries).toHaveLength(0);
    expect(await (held.deliveries[0] as Delivery).ack()).toBe(true);
    await observeFor(1500);
    expect(watcher.deliveries).toHaveLength(0);
  });

  it('resolves false, never throws, when a delivery’s receipt handle went stale', async () => {
    const t = current();
    const first = t.closer.add(makeBroker(t.ctx));
    const second = t.closer.add(makeBroker(t.ctx));
    const a = await collect(t, first, first.defaultQueue);
    await first.publish(task('contested'));
    await eventually(() => expect(a.deliveries).toHaveLength(1));
    const stale = a.deliveries[0] as Delivery;
    // The message becomes visible again behind the holder's back and another consumer receives it.
    const { QueueUrl } = await admin.send(new GetQueueUrlCommand({ QueueName: first.defaultQueue }));
    await admin.send(
      new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: stale.token, VisibilityTimeout: 0 }),
    );
    const b = await collect(t, second, second.defaultQueue);
    await eventually(() => expect(b.deliveries).toHaveLength(1));
    const fresh = b.deliveries[0] as Delivery;
    expect(fresh.token).not.toBe(stale.token);
    expect(fresh.signature.sqsReceiptHandle).toBe(fresh.token);
    expect(await stale.extendLease?.(5000)).toBe(false);
    expect(await stale.ack()).toBe(false);
    expect(await fresh.ack()).toBe(true);
  });

  it('waits out a sub-second requeue delay with the slot already free, then redelivers', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx));
    const got = await collect(t, broker, broker.defaultQueue, { concurrency: 1 });
    await broker.publish(task('first'));
    await eventually(() => expect(got.deliveries).toHaveLength(1));
    await broker.publish(task('second'));
    const nackedAt = Date.now();
    expect(await (got.deliveries[0] as Delivery).nack({ requeue: true, delayMs: 400 })).toBe(true);
    // The one slot is free at once: the next task arrives while the first one waits out its delay.
    await eventually(() => expect(got.deliveries.map((d) => d.signature.name)).toEqual(['first', 'second']));
    await (got.deliveries[1] as Delivery).ack();
    await eventually(() => expect(got.deliveries).toHaveLength(3));
    const again = got.deliveries[2] as Delivery;
    expect(again.signature.name).toBe('first');
    expect(again.attempt).toBe(2);
    expect((got.at[2] as number) - nackedAt).toBeGreaterThanOrEqual(400);
    await again.ack();
  });

  it('accepts an existing client and leaves it open', async () => {
    const t = current();
    const client = new SQSClient(connection);
    t.closer.add({ close: () => client.destroy() });
    const broker = new SqsBroker({
      client,
      defaultQueue: `${t.ctx.namespace}_tasks`,
      visibilityTimeoutMs: 1000,
    });
    await broker.publish(task('x'));
    await broker.close();
    await broker.close();
    const out = await client.send(new GetQueueUrlCommand({ QueueName: `${t.ctx.namespace}_tasks` }));
    expect(out.QueueUrl).toContain(`${t.ctx.namespace}_tasks`);
    await expect(broker.publish(task('y'))).rejects.toThrow(/closed/);
  });
});
