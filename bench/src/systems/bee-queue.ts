import BeeQueue from 'bee-queue';
import { nowMs } from '../stats.js';
import type { Producer, WorkerConfig, WorkerRunner } from './types.js';
import { completionTracker } from './worker-common.js';

// bee-queue 2 on the same Redis: `createJob().save()` / `saveAll` to enqueue, `process(concurrency)` to
// run. "Results stored" means what it means for BullMQ: succeeded jobs and their results are kept
// (`removeOnSuccess: false`) and the worker publishes job events that the producer follows
// (`sendEvents` / `getEvents`); without results, succeeded jobs are removed and no events are sent.

const PREFIX = 'benchbee';

function settings(config: Pick<WorkerConfig, 'withBackend' | 'redisUrl' | 'mode'>, isWorker: boolean) {
  const u = new URL(config.redisUrl);
  return {
    prefix: PREFIX,
    redis: { host: u.hostname, port: Number(u.port || 6379) },
    isWorker,
    // Only the latency run waits for results; a drain's producer must not compete for the CPU.
    getEvents: !isWorker && config.withBackend && config.mode === 'latency',
    sendEvents: config.withBackend,
    // Job-level events are followed through the queue's `job succeeded`, so no job objects are kept.
    storeJobs: false,
    activateDelayedJobs: false,
    removeOnSuccess: !config.withBackend,
    removeOnFailure: !config.withBackend,
  };
}

/** bee-queue producer: `saveAll` in batches, `save` for single sends. */
export async function beeQueueProducer(
  config: Pick<WorkerConfig, 'queue' | 'withBackend' | 'redisUrl' | 'mode'>,
): Promise<Producer> {
  const queue = new BeeQueue(config.queue, settings(config, false));
  await queue.ready();
  const pending = new Map<number, Promise<number>>();
  const following = config.withBackend && config.mode === 'latency';
  const waiters = new Map<number, (at: number) => void>();
  const byJobId = new Map<string, number>();
  // A job can succeed before `save()` has told us its id: keep such completions until it has.
  const early = new Map<string, number>();
  const complete = (sentAt: number, at: number) => {
    waiters.get(sentAt)?.(at);
    waiters.delete(sentAt);
  };
  queue.on('job succeeded', (jobId) => {
    const sentAt = byJobId.get(jobId);
    if (sentAt === undefined) {
      early.set(jobId, nowMs());
      return;
    }
    byJobId.delete(jobId);
    complete(sentAt, nowMs());
  });
  return {
    async enqueueBulk(n, batch) {
      for (let done = 0; done < n; done += batch) {
        const size = Math.min(batch, n - done);
        const errors = await queue.saveAll(Array.from({ length: size }, () => queue.createJob({})));
        if (errors.size > 0) throw [...errors.values()][0];
      }
    },
    async send(sentAt) {
      if (following) pending.set(sentAt, new Promise<number>((resolve) => waiters.set(sentAt, resolve)));
      const job = await queue.createJob({ sentAt }).save();
      if (!following) return;
      const at = early.get(job.id);
      if (at === undefined) byJobId.set(job.id, sentAt);
      else {
        early.delete(job.id);
        complete(sentAt, at);
      }
    },
    resultOf: following
      ? (sentAt) => {
          const p = pending.get(sentAt);
          if (!p) return Promise.reject(new Error('unknown task'));
          pending.delete(sentAt);
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error('bee-queue: no succeeded event within 120 s')),
              120_000,
            );
          });
          return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
        }
      : undefined,
    async sendHang() {
      await queue.createJob({ hang: true }).save();
    },
    async cleanup() {
      await queue.destroy();
    },
    async close() {
      await queue.close();
    },
  } as Producer;
}

/** bee-queue worker in the child process. */
export const beeQueueWorker: WorkerRunner = async (config, report) => {
  const tracker = completionTracker(config, report);
  const queue = new BeeQueue(config.queue, { ...settings(config, true), stallInterval: 10_000 });
  await queue.ready();
  queue.on('succeeded', () => tracker.completed());
  await tracker.ready();
  queue.process(config.concurrency, async (job: BeeQueue.Job<{ sentAt?: number; hang?: boolean }>) => {
    if (job.data.hang) {
      report({ event: 'started', at: nowMs() });
      if (tracker.firstHang()) await new Promise(() => {});
      return;
    }
    if (config.mode === 'latency' && job.data.sentAt !== undefined) tracker.recordStart(job.data.sentAt);
  });
  await tracker.finished;
  await queue.close();
};
