import {
  defineTask,
  MemoryBackend,
  type RetryStrategy,
  Server,
  type Signature,
  signature,
  withUnique,
} from '@machinery/core';
import { eventually } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import { collect, inspectQueue, makeBroker, useTestContext } from './sqs.js';

const current = useTestContext();

function task(name: string, extra: Partial<Signature> = {}): Signature {
  return signature(name, [], { headers: {}, ...extra });
}

describe('SqsBroker on FIFO queues', () => {
  it('sends MessageGroupId from brokerMessageGroupId and a deduplication id unique per send', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx, { defaultQueue: `${t.ctx.namespace}_tasks.fifo` }));
    const sig = task('grouped', { brokerMessageGroupId: 'customer-42' });
    await broker.publish(sig);
    await broker.publish(task('ungrouped'));
    const { ready } = await inspectQueue(broker.defaultQueue);
    expect(ready).toHaveLength(2);
    const grouped = ready.find((m) => m.body.includes('"grouped"'));
    expect(grouped?.messageGroupId).toBe('customer-42');
    expect(grouped?.messageDeduplicationId).toMatch(new RegExp(`^${sig.uuid}-[0-9a-f]{16}$`));
    // Without a group id each task is its own group (Go refuses to send it at all).
    const ungrouped = ready.find((m) => m.body.includes('"ungrouped"'));
    expect(ungrouped?.messageGroupId).toMatch(/^task_/);
  });

  it('delivers a retry with the same UUID inside the five-minute deduplication window (Go drops it)', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx, { defaultQueue: `${t.ctx.namespace}_tasks.fifo` }));
    const got = await collect(t, broker, broker.defaultQueue, { ack: true });
    const sig = task('same_uuid', { brokerMessageGroupId: 'g' });
    await broker.publish(sig);
    await broker.publish({ ...sig, retryCount: 0 });
    await eventually(() => expect(got.deliveries).toHaveLength(2));
    expect(got.deliveries.map((d) => d.signature.uuid)).toEqual([sig.uuid, sig.uuid]);
  });

  it('drops a second unique task with the same key inside SQS’s 5-minute window (MessageDeduplicationId)', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx, { defaultQueue: `${t.ctx.namespace}_tasks.fifo` }));
    const got = await collect(t, broker, broker.defaultQueue, { ack: true });
    const claim = { key: 'invoice-7', forMs: 300_000 };
    // Published straight to the broker, as a producer without a unique store (or a retried send) would.
    const first = withUnique(task('invoice', { brokerMessageGroupId: 'g' }), claim);
    await broker.publish(first);
    await broker.publish(withUnique(task('invoice', { brokerMessageGroupId: 'g' }), claim));
    // A shorter window than SQS's keeps a per-send id: SQS must not outlast it.
    const short = withUnique(task('invoice', { brokerMessageGroupId: 'g' }), {
      key: 'invoice-7',
      forMs: 1000,
    });
    await broker.publish(short);
    const marker = task('marker', { brokerMessageGroupId: 'g' });
    await broker.publish(marker);
    await eventually(() => expect(got.deliveries.map((d) => d.signature.uuid)).toContain(marker.uuid));
    expect(got.deliveries.map((d) => d.signature.uuid)).toEqual([first.uuid, short.uuid, marker.uuid]);
  });

  it('runs a failing task again through the Worker’s retry on a FIFO queue', async () => {
    const t = current();
    const broker = makeBroker(t.ctx, { defaultQueue: `${t.ctx.namespace}_tasks.fifo` });
    const server = t.closer.add(new Server({ broker, backend: new MemoryBackend() }));
    let calls = 0;
    const flaky = defineTask('flaky_once', () => {
      calls++;
      if (calls === 1) throw new Error('first attempt fails');
      return 'ok';
    });
    server.register(flaky);
    // An immediate retry: re-published at once with the same UUID, well inside the dedup window.
    const now: RetryStrategy = { next: () => ({ timeout: 0, delayMs: 0 }) };
    await server.worker({ concurrency: 2, handleSignals: false, retry: now }).start();
    const r = await server.send(flaky.signatureWith({ retryCount: 1, brokerMessageGroupId: 'g' }));
    expect(await r.get({ timeoutMs: 20_000 })).toBe('ok');
    expect(calls).toBe(2);
  });

  it('keeps order within a message group', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx, { defaultQueue: `${t.ctx.namespace}_tasks.fifo` }));
    await broker.publishMany(
      Array.from({ length: 8 }, (_, i) => task(`step${i}`, { brokerMessageGroupId: 'order' })),
    );
    const got = await collect(t, broker, broker.defaultQueue, { concurrency: 8, ack: true });
    await eventually(() => expect(got.deliveries).toHaveLength(8));
    expect(got.deliveries.map((d) => d.signature.name)).toEqual(
      Array.from({ length: 8 }, (_, i) => `step${i}`),
    );
  });
});
