import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { nowMs } from '../stats.js';
import type { Producer, WorkerConfig, WorkerRunner } from './types.js';
import { completionTracker } from './worker-common.js';

const PREFIX = 'benchbull';

function connection(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

/** BullMQ producer: `addBulk` in batches; completed jobs kept only when a "backend" is wanted. */
export async function bullmqProducer(
  config: Pick<WorkerConfig, 'queue' | 'withBackend' | 'redisUrl' | 'mode'>,
): Promise<Producer> {
  const queue = new Queue(config.queue, { connection: connection(config.redisUrl), prefix: PREFIX });
  await queue.waitUntilReady();
  const jobOpts = { removeOnComplete: !config.withBackend, removeOnFail: !config.withBackend };
  let events: QueueEvents | undefined;
  const waiters = new Map<string, (at: number) => void>();
  const byJobId = new Map<string, string>();
  // A job can complete before `queue.add` has told us its id: keep such completions until it has.
  const early = new Map<string, number>();
  const complete = (key: string, at: number) => {
    waiters.get(key)?.(at);
    waiters.delete(key);
  };
  // Only the latency run waits for results; a drain's producer must not compete for the CPU.
  if (config.withBackend && config.mode === 'latency') {
    events = new QueueEvents(config.queue, { connection: connection(config.redisUrl), prefix: PREFIX });
    events.on('completed', ({ jobId }) => {
      const key = byJobId.get(jobId);
      if (key === undefined) {
        early.set(jobId, nowMs());
        return;
      }
      byJobId.delete(jobId);
      complete(key, nowMs());
    });
    await events.waitUntilReady();
  }
  const pending = new Map<string, Promise<number>>();
  return {
    async enqueueBulk(n, batch) {
      for (let done = 0; done < n; done += batch) {
        const size = Math.min(batch, n - done);
        await queue.addBulk(Array.from({ length: size }, () => ({ name: 'noop', data: {}, opts: jobOpts })));
      }
    },
    async send(sentAt) {
      const key = String(sentAt);
      if (events) pending.set(key, new Promise<number>((resolve) => waiters.set(key, resolve)));
      const job = await queue.add('noop', { sentAt }, jobOpts);
      if (!events || !job.id) return;
      const at = early.get(job.id);
      if (at === undefined) byJobId.set(job.id, key);
      else {
        early.delete(job.id);
        complete(key, at);
      }
    },
    resultOf: events
      ? (sentAt) => {
          const p = pending.get(String(sentAt));
          if (!p) return Promise.reject(new Error('unknown task'));
          // As for ours (AsyncResult.get timeoutMs): a result that never comes fails the run, not hangs it.
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('BullMQ: no completion event within 120 s')), 120_000);
          });
          return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
        }
      : undefined,
    async sendHang() {
      await queue.add('hang', {}, jobOpts);
    },
    async cleanup() {
      await queue.obliterate({ force: true });
    },
    async close() {
      await events?.close();
      await queue.close();
    },
  } as Producer;
}

/** BullMQ worker in the child process. */
export const bullmqWorker: WorkerRunner = async (config, report) => {
  const tracker = completionTracker(config, report);
  const worker = new Worker(
    config.queue,
    async (job: Job) => {
      if (job.name === 'hang') {
        report({ event: 'started', at: nowMs() });
        if (tracker.firstHang()) await new Promise(() => {});
        return;
      }
      if (config.mode === 'latency') tracker.recordStart((job.data as { sentAt: number }).sentAt);
    },
    {
      connection: connection(config.redisUrl),
      prefix: PREFIX,
      concurrency: config.concurrency,
      autorun: false,
    },
  );
  worker.on('completed', () => tracker.completed());
  await worker.waitUntilReady();
  await tracker.ready();
  void worker.run();
  await tracker.finished;
  await worker.close(true);
};
