import { PostgresBroker } from '@machinery/broker-postgres';
import { defineTask, Server, signature, silentLogger } from '@machinery/core';
import pg from 'pg';
import { WorkerProcess } from './runner.js';
import { fmt, median, nowMs, ratio, table } from './stats.js';
import { machineryProducer } from './systems/machinery.js';
import type { Producer, WorkerConfig, WorkerRunner } from './systems/types.js';
import { completionTracker } from './systems/worker-common.js';

// PostgresBroker beside RedisBroker in one run: bulk enqueue and drain of no-op tasks without a
// result backend (concurrency 10 and 100), each worker in its own process. Every Postgres run works
// in a schema of its own, dropped afterwards.

/** Sizes of the PostgreSQL comparison. */
export interface PostgresBenchOptions {
  postgresUrl: string;
  redisUrl: string;
  tasks: number;
  runs: number;
  log: (line: string) => void;
}

type System = 'machinery-postgres' | 'machinery';
let counter = 0;

function config(system: System, o: PostgresBenchOptions, extra: Partial<WorkerConfig> = {}): WorkerConfig {
  counter++;
  return {
    system,
    queue: `bench_${system.replace(/[^a-z]/g, '')}_${process.pid}_${counter}`,
    concurrency: 1,
    withBackend: false,
    expect: 0,
    mode: 'noop',
    redisUrl: o.redisUrl,
    amqpUrl: '',
    postgresUrl: o.postgresUrl,
    ...extra,
  };
}

function makeServer(config: Pick<WorkerConfig, 'queue' | 'postgresUrl'>): Server {
  const broker = new PostgresBroker({
    ...(config.postgresUrl ? { url: config.postgresUrl } : {}),
    schema: config.queue,
    defaultQueue: config.queue,
    logger: silentLogger,
  });
  return new Server({ broker, logger: silentLogger });
}

/** @machinery on PostgreSQL, producer side: `sendMany` (one multi-row INSERT per batch). */
async function postgresProducer(config: Pick<WorkerConfig, 'queue' | 'postgresUrl'>): Promise<Producer> {
  const server = makeServer(config);
  return {
    async enqueueBulk(n, batch) {
      for (let done = 0; done < n; done += batch) {
        const size = Math.min(batch, n - done);
        await server.sendMany(Array.from({ length: size }, () => signature('noop')));
      }
    },
    async send() {
      await server.send(signature('noop'));
    },
    async sendHang() {
      await server.send(signature('hang'));
    },
    async cleanup() {
      const client = new pg.Client({ connectionString: config.postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${config.queue}" CASCADE`);
      await client.end();
    },
    async close() {
      await server.close();
    },
  };
}

/** @machinery on PostgreSQL, worker side (in the child process). */
export const postgresWorker: WorkerRunner = async (config, report) => {
  const tracker = completionTracker(config, report);
  const server = makeServer(config);
  server.register(defineTask('noop', () => {}));
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

function producerFor(system: System, cfg: WorkerConfig): Promise<Producer> {
  return system === 'machinery-postgres' ? postgresProducer(cfg) : machineryProducer(cfg);
}

async function enqueueRate(system: System, o: PostgresBenchOptions): Promise<number> {
  const cfg = config(system, o);
  const producer = await producerFor(system, cfg);
  try {
    // Connect (and create the table) before the clock starts: set-up is not enqueue throughput.
    await producer.enqueueBulk(100, 100);
    const t0 = nowMs();
    await producer.enqueueBulk(o.tasks, 1000);
    return (o.tasks / (nowMs() - t0)) * 1000;
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

async function drainOnce(system: System, o: PostgresBenchOptions, concurrency: number): Promise<number> {
  const cfg = config(system, o, { concurrency, expect: o.tasks });
  const producer = await producerFor(system, cfg);
  try {
    await producer.enqueueBulk(o.tasks, 1000);
    const worker = new WorkerProcess(cfg);
    await worker.next('ready');
    worker.go();
    const done = await worker.next('done');
    await worker.stop();
    return (done.completed / done.elapsedMs) * 1000;
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

/** Runs the PostgreSQL comparison and returns its Markdown report. */
export async function postgresBench(o: PostgresBenchOptions): Promise<string> {
  const out: string[] = [];
  // Alternated: the database's own state (autovacuum, WAL) drifts during a run.
  const pgRuns: number[] = [];
  const redisRuns: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    o.log(`postgres: enqueue run ${i + 1}`);
    pgRuns.push(await enqueueRate('machinery-postgres', o));
    redisRuns.push(await enqueueRate('machinery', o));
  }
  out.push(`### Bulk enqueue (${fmt(o.tasks)} no-op tasks in batches of 1000, median of ${o.runs})\n`);
  out.push(
    table(
      ['broker', 'tasks/s', 'Postgres / Redis'],
      [
        ['PostgresBroker (sendMany)', fmt(median(pgRuns)), ratio(median(pgRuns), median(redisRuns))],
        ['RedisBroker (sendMany)', fmt(median(redisRuns)), ''],
      ],
    ),
  );
  const rows: string[][] = [];
  for (const c of [10, 100]) {
    const ours: number[] = [];
    const redis: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      o.log(`postgres: drain c=${c} run ${i + 1}`);
      ours.push(await drainOnce('machinery-postgres', o, c));
      redis.push(await drainOnce('machinery', o, c));
    }
    rows.push([String(c), fmt(median(ours)), fmt(median(redis)), ratio(median(ours), median(redis))]);
  }
  out.push(`\n### Drain of ${fmt(o.tasks)} no-op tasks, no result backend (tasks/s, median of ${o.runs})\n`);
  out.push(table(['concurrency', 'PostgresBroker', 'RedisBroker', 'Postgres / Redis'], rows));
  return out.join('\n');
}
