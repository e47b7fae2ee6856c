import { AmqpBroker } from '@machinery/broker-amqp';
import { defineTask, Server, signature, silentLogger } from '@machinery/core';
import amqp from 'amqplib';
import { nowMs } from '../stats.js';
import type { Producer, WorkerConfig, WorkerRunner } from './types.js';
import { completionTracker } from './worker-common.js';

// @machinery on RabbitMQ: AmqpBroker without a result backend, on a per-run exchange and queue.

function makeBroker(config: Pick<WorkerConfig, 'queue' | 'amqpUrl'>): AmqpBroker {
  return new AmqpBroker({
    url: config.amqpUrl,
    exchange: `${config.queue}_exchange`,
    defaultQueue: config.queue,
    deadLetterQueue: `${config.queue}_dead`,
    logger: silentLogger,
  });
}

/** @machinery AMQP producer: `publishMany` in batches (confirmed). */
export async function machineryAmqpProducer(
  config: Pick<WorkerConfig, 'queue' | 'amqpUrl'>,
): Promise<Producer> {
  const server = new Server({ broker: makeBroker(config), logger: silentLogger });
  return {
    async enqueueBulk(n, batch) {
      for (let done = 0; done < n; done += batch) {
        const size = Math.min(batch, n - done);
        await server.sendMany(Array.from({ length: size }, () => signature('noop')));
      }
    },
    async send(sentAt) {
      await server.send(signature('noop', [sentAt]));
    },
    async sendHang() {
      await server.send(signature('hang'));
    },
    async cleanup() {
      const connection = await amqp.connect(config.amqpUrl);
      const channel = await connection.createChannel();
      for (const q of [config.queue, `${config.queue}_dead`]) await channel.deleteQueue(q);
      await channel.deleteExchange(`${config.queue}_exchange`);
      await connection.close();
    },
    async close() {
      await server.close();
    },
  };
}

/** @machinery AMQP worker in the child process. */
export const machineryAmqpWorker: WorkerRunner = async (config, report) => {
  const tracker = completionTracker(config, report);
  const server = new Server({ broker: makeBroker(config), logger: silentLogger });
  server.register(
    defineTask('noop', (sentAt?: number) => {
      if (config.mode === 'latency' && sentAt !== undefined) tracker.recordStart(sentAt);
    }),
    defineTask('hang', async () => {
      report({ event: 'started', at: nowMs() });
      if (config.mode === 'hang') await new Promise(() => {});
    }),
  );
  const worker = server.worker({
    concurrency: config.concurrency,
    handleSignals: false,
    logger: silentLogger,
  });
  worker.on('succeeded', () => tracker.completed());
  await tracker.ready();
  await worker.start();
  await tracker.finished;
  await server.close();
};
