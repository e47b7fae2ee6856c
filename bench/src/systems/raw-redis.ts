import { encodeSignatureCompact, signature } from '@machinery/core';
import { Redis } from 'ioredis';
import { nowMs } from '../stats.js';
import type { Producer, WorkerConfig, WorkerRunner } from './types.js';
import { completionTracker } from './worker-common.js';

// The raw-client baseline: RPUSH to enqueue, `concurrency` loops of BLPOP to consume. No leases, no
// acknowledgements, no states — a task popped by a worker that dies is lost. It shows the ceiling a
// plain list queue reaches on this machine, not a design anyone should run.

/** Raw ioredis producer: pipelined RPUSH. */
export async function rawRedisProducer(config: Pick<WorkerConfig, 'queue' | 'redisUrl'>): Promise<Producer> {
  const redis = new Redis(config.redisUrl);
  const key = `benchraw:${config.queue}`;
  return {
    async enqueueBulk(n, batch) {
      for (let done = 0; done < n; done += batch) {
        const size = Math.min(batch, n - done);
        // Same size as our compact messages: a real task body, so memory figures compare like for like.
        await redis.rpush(
          key,
          ...Array.from({ length: size }, () =>
            encodeSignatureCompact(signature('noop', [], { routingKey: key })),
          ),
        );
      }
    },
    async send(sentAt) {
      await redis.rpush(key, JSON.stringify({ Name: 'noop', sentAt }));
    },
    async sendHang() {
      await redis.rpush(key, '{"Name":"hang"}');
    },
    async cleanup() {
      await redis.del(key);
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** Raw ioredis worker: `concurrency` BLPOP loops, each on its own connection. */
export const rawRedisWorker: WorkerRunner = async (config, report) => {
  const tracker = completionTracker(config, report);
  const key = `benchraw:${config.queue}`;
  const connections = Array.from({ length: config.concurrency }, () => new Redis(config.redisUrl));
  await Promise.all(connections.map((c) => c.ping()));
  await tracker.ready();
  let stop = false;
  void tracker.finished.then(() => {
    stop = true;
  });
  await Promise.race([
    tracker.finished,
    Promise.all(
      connections.map(async (c) => {
        while (!stop) {
          const popped = await c.blpop(key, 1);
          if (!popped) continue;
          const task = JSON.parse(popped[1]) as { Name: string; sentAt?: number };
          if (task.Name === 'hang') {
            report({ event: 'started', at: nowMs() });
            await new Promise(() => {});
          }
          if (config.mode === 'latency' && task.sentAt !== undefined) tracker.recordStart(task.sentAt);
          tracker.completed();
        }
      }),
    ),
  ]);
  for (const c of connections) c.disconnect();
};
