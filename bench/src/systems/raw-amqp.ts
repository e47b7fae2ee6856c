import { encodeSignatureCompact, signature } from '@machinery/core';
import amqp from 'amqplib';
import type { Producer, WorkerConfig, WorkerRunner } from './types.js';
import { completionTracker } from './worker-common.js';

// The raw amqplib baseline: a durable queue, persistent messages published on a confirm channel,
// consumed with manual acks at the same prefetch as the worker's concurrency.

// The same bytes our producer publishes for a no-op task (compact signature JSON), so that both sides
// move identical messages.
const BODY = Buffer.from(encodeSignatureCompact(signature('noop', [], { routingKey: 'machinery_tasks' })));

/** Raw amqplib producer: confirmed publishes, `waitForConfirms` per batch. */
export async function rawAmqpProducer(config: Pick<WorkerConfig, 'queue' | 'amqpUrl'>): Promise<Producer> {
  const connection = await amqp.connect(config.amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(config.queue, { durable: true });
  const publish = async (n: number) => {
    for (let i = 0; i < n; i++) {
      if (!channel.sendToQueue(config.queue, BODY, { persistent: true, contentType: 'application/json' })) {
        await new Promise((r) => channel.once('drain', r));
      }
    }
    await channel.waitForConfirms();
  };
  return {
    async enqueueBulk(n, batch) {
      for (let done = 0; done < n; done += batch) await publish(Math.min(batch, n - done));
    },
    async send() {
      await publish(1);
    },
    async sendHang() {
      await publish(1);
    },
    async cleanup() {
      await channel.deleteQueue(config.queue);
    },
    async close() {
      await connection.close();
    },
  };
}

/** Raw amqplib consumer: prefetch = concurrency, ack on receipt. */
export const rawAmqpWorker: WorkerRunner = async (config, report) => {
  const tracker = completionTracker(config, report);
  const connection = await amqp.connect(config.amqpUrl);
  const channel = await connection.createChannel();
  await channel.assertQueue(config.queue, { durable: true });
  await channel.prefetch(config.concurrency);
  await tracker.ready();
  await channel.consume(config.queue, (msg) => {
    if (!msg) return;
    channel.ack(msg);
    tracker.completed();
  });
  await tracker.finished;
  await connection.close();
};
