import { RedisBackend, RedisControlPlane } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { type AsyncResult, defineTask, Server, signature, silentLogger } from '@machinery/core';
import { Redis } from 'ioredis';
import { deleteKeys } from '../redis-info.js';
import { nowMs } from '../stats.js';
import type { Producer, WorkerConfig, WorkerRunner } from './types.js';
import { completionTracker } from './worker-common.js';

// @machinery on Redis: RedisBroker (+ RedisBackend when results are stored). Keys live under a
// per-run prefix so that cleanup can remove them; the layout is otherwise Go Machinery's.

function prefixOf(queue: string): string {
  return `${queue}:`;
}

function makeServer(config: Pick<WorkerConfig, 'queue' | 'withBackend' | 'redisUrl' | 'control'>): Server {
  const prefix = prefixOf(config.queue);
  const broker = new RedisBroker({
    url: config.redisUrl,
    prefix,
    defaultQueue: config.queue,
    logger: silentLogger,
  });
  const backend = config.withBackend
    ? new RedisBackend({ url: config.redisUrl, prefix, logger: silentLogger })
    : undefined;
  const control =
    config.control === undefined
      ? {}
      : {
          control: new RedisControlPlane({ url: config.redisUrl, prefix, logger: silentLogger }),
          controlOptions: { events: config.control === 'events-on' },
        };
  return new Server({ broker, ...(backend ? { backend } : {}), ...control, logger: silentLogger });
}

/** @machinery producer: `sendMany` (publishMany, plus PENDING states with a backend). */
export async function machineryProducer(
  config: Pick<WorkerConfig, 'queue' | 'withBackend' | 'redisUrl' | 'mode' | 'control'>,
): Promise<Producer> {
  const server = makeServer(config);
  // Only the latency run waits for results.
  const following = config.withBackend && config.mode === 'latency';
  const results = new Map<number, AsyncResult>();
  return {
    async enqueueBulk(n, batch) {
      for (let done = 0; done < n; done += batch) {
        const size = Math.min(batch, n - done);
        await server.sendMany(Array.from({ length: size }, () => signature('noop')));
      }
    },
    async send(sentAt) {
      const r = await server.send(signature('noop', [sentAt]));
      if (following) results.set(sentAt, r);
    },
    resultOf: following
      ? async (sentAt) => {
          const r = results.get(sentAt);
          if (!r) throw new Error('unknown task');
          results.delete(sentAt);
          await r.wait({ timeoutMs: 120_000 });
          return nowMs();
        }
      : undefined,
    async sendHang() {
      await server.send(signature('hang'));
    },
    async cleanup() {
      const redis = new Redis(config.redisUrl);
      await deleteKeys(redis, `${prefixOf(config.queue)}*`);
      redis.disconnect();
    },
    async close() {
      await server.close();
    },
  } as Producer;
}

/** @machinery worker in the child process. */
export const machineryWorker: WorkerRunner = async (config, report) => {
  const tracker = completionTracker(config, report);
  const server = makeServer(config);
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
