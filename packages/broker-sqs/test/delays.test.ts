import { type Signature, signature } from '@machinery/core';
import { eventually, observeFor } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import { collect, inspectQueue, makeBroker, recordingLogger, useTestContext } from './sqs.js';

const current = useTestContext();

function task(name: string, extra: Partial<Signature> = {}): Signature {
  return signature(name, [], { headers: {}, ...extra });
}

describe('SqsBroker: delays beyond SQS’s 15 minutes', () => {
  it('publishes a two-hour ETA (Go fails beyond 900 s) as a 900 s DelaySeconds first hop', async () => {
    const { ctx, closer } = current();
    const broker = closer.add(makeBroker(ctx));
    const before = Date.now();
    await broker.publish(task('much_later', { eta: new Date(Date.now() + 2 * 3600_000) }));
    const { delayed } = await inspectQueue(`${ctx.namespace}_tasks`);
    expect(delayed).toHaveLength(1);
    const delayMs = (delayed[0]?.delayUntil ?? 0) - before;
    expect(delayMs).toBeGreaterThanOrEqual(899_000);
    expect(delayMs).toBeLessThanOrEqual(901_000 + (Date.now() - before));
  });

  it('reaches a delay longer than maxDelaySeconds in hops, delivering once and not before the ETA', async () => {
    const t = current();
    const logger = recordingLogger();
    // A one-second hop limit stands in for SQS's 900 s, so that three hops take seconds, not 45 minutes.
    const broker = t.closer.add(makeBroker(t.ctx, { maxDelaySeconds: 1, logger }));
    const got = await collect(t, broker, broker.defaultQueue, { ack: true });
    const eta = new Date(Date.now() + 3500);
    const sig = task('hopper', { eta });
    await broker.publish(sig);
    await eventually(() => expect(got.deliveries).toHaveLength(1), { timeoutMs: 15_000 });
    expect(got.at[0]).toBeGreaterThanOrEqual(eta.getTime());
    expect(got.deliveries[0]?.signature.uuid).toBe(sig.uuid);
    // Each hop is a fresh message, so the task arrives as a first delivery.
    expect(got.deliveries[0]?.attempt).toBe(1);
    expect(logger.lines.filter((l) => l.msg === 'delay hop').length).toBeGreaterThanOrEqual(2);
    await observeFor(1500);
    expect(got.deliveries).toHaveLength(1);
  });

  it('keeps a FIFO task with an ETA invisible until the ETA (FIFO queues have no per-message delay)', async () => {
    const t = current();
    const broker = t.closer.add(makeBroker(t.ctx, { defaultQueue: `${t.ctx.namespace}_tasks.fifo` }));
    const got = await collect(t, broker, broker.defaultQueue, { concurrency: 2, ack: true });
    const eta = new Date(Date.now() + 2500);
    await broker.publish(task('fifo_later', { eta, brokerMessageGroupId: 'a' }));
    await broker.publish(task('fifo_now', { brokerMessageGroupId: 'b' }));
    await eventually(
      () => expect(got.deliveries.map((d) => d.signature.name)).toEqual(['fifo_now', 'fifo_later']),
      { timeoutMs: 15_000 },
    );
    expect(got.at[1]).toBeGreaterThanOrEqual(eta.getTime());
  });
});
