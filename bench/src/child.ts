import type { ChildMessage, WorkerConfig, WorkerRunner } from './systems/types.js';

// Entry point of a benchmark worker process: `node dist/child.js '<WorkerConfig JSON>'`. Each measured
// worker runs in its own process so its CPU and peak RSS are its own.

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const report = (m: ChildMessage) => process.stdout.write(`${JSON.stringify(m)}\n`);

async function load(): Promise<WorkerRunner> {
  switch (config.system) {
    case 'machinery':
      return (await import('./systems/machinery.js')).machineryWorker;
    case 'bullmq':
      return (await import('./systems/bullmq.js')).bullmqWorker;
    case 'bee-queue':
      return (await import('./systems/bee-queue.js')).beeQueueWorker;
    case 'raw-redis':
      return (await import('./systems/raw-redis.js')).rawRedisWorker;
    case 'machinery-amqp':
      return (await import('./systems/machinery-amqp.js')).machineryAmqpWorker;
    case 'raw-amqp':
      return (await import('./systems/raw-amqp.js')).rawAmqpWorker;
    case 'machinery-postgres':
      return (await import('./postgres-bench.js')).postgresWorker;
  }
}

const run = await load();
await run(config, report);
process.exit(0);
