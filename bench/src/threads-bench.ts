import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { RedisBroker } from '@machinery/broker-redis';
import { type Signature, silentLogger } from '@machinery/core';
import { Redis } from 'ioredis';
import { deleteKeys } from './redis-info.js';
import { fmt, median, ratio, table } from './stats.js';
import { hashRounds, hashTask, noopTask } from './threads-tasks.js';
import type { ThreadsWorkerConfig } from './threads-worker.js';

/** Sizes of the thread-pool figure. */
export interface ThreadsBenchOptions {
  redisUrl: string;
  /** CPU-bound tasks per drain. */
  cpuTasks: number;
  /** No-op tasks per drain. */
  noopTasks: number;
  /** Repetitions; in-process and pool alternate within each, the median is reported. */
  runs: number;
  log: (line: string) => void;
}

const WORKER = fileURLToPath(new URL('./threads-worker.js', import.meta.url));
/** Work per CPU-bound task. */
const TASK_MS = 5;
let runCounter = 0;

/**
 * SHA-256 rounds that take about {@link TASK_MS} ms of CPU on this machine, measured here once in CPU
 * time (`process.cpuUsage`), not wall time: other processes on a shared machine do not shrink it.
 */
function calibrate(): number {
  hashRounds(2000);
  const before = process.cpuUsage();
  hashRounds(50_000);
  const used = process.cpuUsage(before);
  const perMs = 50_000 / ((used.user + used.system) / 1000);
  return Math.max(1, Math.round(perMs * TASK_MS));
}

/**
 * The same hashing without any queue: `count` tasks' worth of rounds split over `threads` plain
 * threads, in tasks per second. Its ratio between 1 and N threads is how much parallelism the machine
 * gives this run at the moment — the ceiling of the pool's ratio (on a shared machine, well below N).
 */
async function rawThreads(threads: number, rounds: number, count: number): Promise<number> {
  const each = Math.ceil(count / threads);
  const code = `const { createHash } = require('node:crypto');
const block = Buffer.alloc(1024, 7);
for (let t = 0; t < ${each}; t++) for (let i = 0; i < ${rounds}; i++) createHash('sha256').update(block).digest();
require('node:worker_threads').parentPort.postMessage('done');`;
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: threads },
      () => new Promise((resolve) => new Thread(code, { eval: true }).once('message', resolve)),
    ),
  );
  return ((each * threads) / (performance.now() - t0)) * 1000;
}

/** Enqueues `sigs`, then one worker process drains them: tasks per second. */
async function drain(
  o: ThreadsBenchOptions,
  threads: number,
  make: () => Signature,
  n: number,
): Promise<number> {
  runCounter++;
  const queue = `bench_threads_${process.pid}_${runCounter}`;
  const broker = new RedisBroker({
    url: o.redisUrl,
    prefix: `${queue}:`,
    defaultQueue: queue,
    logger: silentLogger,
  });
  const redis = new Redis(o.redisUrl);
  try {
    for (let done = 0; done < n; done += 1000) {
      await broker.publishMany(Array.from({ length: Math.min(1000, n - done) }, make));
    }
    const config: ThreadsWorkerConfig = { redisUrl: o.redisUrl, queue, threads, expect: n };
    const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const result = await new Promise<{ completed: number; elapsedMs: number }>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`thread bench worker exited with ${code}`)));
      lines.on('line', (line) => {
        if (line.startsWith('{')) resolve(JSON.parse(line));
      });
    });
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
    return (result.completed / result.elapsedMs) * 1000;
  } finally {
    await broker.close();
    await deleteKeys(redis, `${queue}:*`);
    redis.disconnect();
  }
}

/**
 * CPU-bound tasks (about 5 ms of SHA-256 each) drained by one worker process, in its own thread
 * (concurrency 10) vs a thread pool of one thread per core; then no-op tasks both ways, whose
 * difference is the pool's overhead per task.
 */
export async function threadsBench(o: ThreadsBenchOptions): Promise<string> {
  const threads = availableParallelism();
  const rounds = calibrate();
  o.log(`threads: ${rounds} SHA-256 rounds ≈ ${TASK_MS} ms; pool of ${threads} threads`);
  const cpu = { inProcess: [] as number[], pool: [] as number[] };
  const noop = { inProcess: [] as number[], pool: [] as number[] };
  const raw = { one: [] as number[], all: [] as number[] };
  for (let r = 0; r < o.runs; r++) {
    raw.one.push(await rawThreads(1, rounds, o.cpuTasks / 4));
    raw.all.push(await rawThreads(threads, rounds, o.cpuTasks / 4));
    cpu.inProcess.push(await drain(o, 0, () => hashTask.signature(rounds), o.cpuTasks));
    cpu.pool.push(await drain(o, threads, () => hashTask.signature(rounds), o.cpuTasks));
    noop.inProcess.push(await drain(o, 0, () => noopTask.signature(), o.noopTasks));
    noop.pool.push(await drain(o, threads, () => noopTask.signature(), o.noopTasks));
    o.log(`threads run ${r + 1}/${o.runs} done`);
  }
  const cpuIn = median(cpu.inProcess);
  const cpuPool = median(cpu.pool);
  const noopIn = median(noop.inProcess);
  const noopPool = median(noop.pool);
  const rawOne = median(raw.one);
  const rawAll = median(raw.all);
  const overheadMs = 1000 / noopPool - 1000 / noopIn;
  return [
    `One worker process, Redis broker and backend (results stored), concurrency 10; in its own thread vs a pool of ${threads} threads. Median of ${o.runs}.`,
    '',
    table(
      ['Tasks', 'in-process (tasks/s)', 'thread pool (tasks/s)', 'pool / in-process'],
      [
        [`${o.cpuTasks} × ${TASK_MS} ms SHA-256`, fmt(cpuIn), fmt(cpuPool), ratio(cpuPool, cpuIn)],
        [`${o.noopTasks} no-op`, fmt(noopIn), fmt(noopPool), ratio(noopPool, noopIn)],
        [
          `ceiling: ${o.cpuTasks / 4} × ${TASK_MS} ms SHA-256 in plain threads, no queue (1 thread vs ${threads})`,
          fmt(rawOne),
          fmt(rawAll),
          ratio(rawAll, rawOne),
        ],
      ],
    ),
    '',
    `Overhead of the pool per no-op task (wall time per task, pool − in-process): ${fmt(overheadMs * 1000)} µs.`,
  ].join('\n');
}
