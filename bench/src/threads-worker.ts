import { RedisBackend } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { Server, silentLogger } from '@machinery/core';
import { hashTask, noopTask } from './threads-tasks.js';

// One worker process of the thread-pool figure: `node threads-worker.js '<ThreadsWorkerConfig>'`.
// Prints `ready` once it consumes, then `{"completed":N,"elapsedMs":T}` once `expect` tasks succeeded;
// the clock runs from the first completion to the last, as in the Redis section's drains.

/** What the bench gives a worker process. */
export interface ThreadsWorkerConfig {
  redisUrl: string;
  queue: string;
  /** `0`: tasks run in the worker's thread; `n`: a pool of `n` threads (concurrency 10 both ways). */
  threads: number;
  expect: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ThreadsWorkerConfig;
const prefix = `${config.queue}:`;
const server = new Server({
  broker: new RedisBroker({ url: config.redisUrl, prefix, defaultQueue: config.queue, logger: silentLogger }),
  backend: new RedisBackend({ url: config.redisUrl, prefix, logger: silentLogger }),
  logger: silentLogger,
});
server.register(hashTask, noopTask);
const worker = server.worker({
  handleSignals: false,
  // The in-process figure uses no warning: a blocked loop is what is measured.
  blockedLoopWarningMs: 0,
  // The same concurrency both ways: enough deliveries held that no thread waits for the next task.
  concurrency: 10,
  ...(config.threads > 0
    ? { pool: { module: new URL('./threads-tasks.js', import.meta.url), threads: config.threads } }
    : {}),
});
let completed = 0;
let first = 0;
worker.on('succeeded', () => {
  completed++;
  if (completed === 1) first = performance.now();
  if (completed === config.expect) {
    process.stdout.write(
      `${JSON.stringify({ completed: completed - 1, elapsedMs: performance.now() - first })}\n`,
    );
    void server.close().then(() => process.exit(0));
  }
});
await worker.start();
process.stdout.write('ready\n');
