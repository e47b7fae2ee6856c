import { randomBytes } from 'node:crypto';
import { RedisFlowControl } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, Server, silentLogger, type TaskOptions } from '@machinery/core';
import { Redis } from 'ioredis';
import { deleteKeys } from './redis-info.js';
import { fmt, median, ratio, table } from './stats.js';

/** Sizes of the flow-control overhead figure. */
export interface FlowBenchOptions {
  redisUrl: string;
  /** No-op tasks per drain. */
  tasks: number;
  /** Repetitions; the kinds alternate within each, the median is reported. */
  runs: number;
  log: (line: string) => void;
}

/** One drain's figures. */
interface Drain {
  perSecond: number;
  workerCpuUs: number;
  redisCpuUs: number;
}

/**
 * The kinds of task compared: no limit, and limits these tasks never reach — so every one pays the
 * store's round trips and none waits.
 */
const KINDS: readonly { name: string; options: TaskOptions<[]> }[] = [
  { name: 'no limit', options: {} },
  { name: 'rate-limited (never reached)', options: { rateLimit: { max: 1_000_000, perMs: 1000 } } },
  { name: 'concurrency-limited (never reached)', options: { concurrencyLimit: { max: 1_000_000 } } },
];

/** Seconds of CPU redis-server used so far (user + sys, from INFO). */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return read('used_cpu_sys') + read('used_cpu_user');
}

/**
 * Enqueues `tasks` no-op tasks, then one worker in this process (concurrency 50, Redis broker,
 * `RedisFlowControl`, no result backend) drains them: tasks/s and CPU per task of this process and of
 * redis-server, from the worker's start to the last task.
 */
async function drain(o: FlowBenchOptions, options: TaskOptions<[]>): Promise<Drain> {
  const prefix = `bench_flow_${randomBytes(4).toString('hex')}:`;
  const server = new Server({
    broker: new RedisBroker({ url: o.redisUrl, prefix, logger: silentLogger }),
    flow: new RedisFlowControl({ url: o.redisUrl, prefix }),
    logger: silentLogger,
  });
  const redis = new Redis(o.redisUrl);
  try {
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const task = defineTask(
      'noop',
      () => {
        if (++done === o.tasks) finish();
      },
      options,
    );
    server.register(task);
    for (let sent = 0; sent < o.tasks; sent += 1000) {
      await server.sendMany(Array.from({ length: Math.min(1000, o.tasks - sent) }, () => task.signature()));
    }
    const redisBefore = await redisCpu(redis);
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await server.worker({ concurrency: 50, handleSignals: false }).start();
    await finished;
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    const redisAfter = await redisCpu(redis);
    return {
      perSecond: (o.tasks / ms) * 1000,
      workerCpuUs: (cpu.user + cpu.system) / o.tasks,
      redisCpuUs: ((redisAfter - redisBefore) * 1e6) / o.tasks,
    };
  } finally {
    await server.close();
    await deleteKeys(redis, `${prefix}*`);
    redis.disconnect();
  }
}

/**
 * What a limit costs a task that stays under it: no-op tasks drained with no limit, with a rate limit
 * and with a concurrency limit they never reach (each limited task asks the Redis flow store before it
 * starts, and a concurrency-limited one gives its slot back after), alternated within each run.
 */
export async function flowBench(o: FlowBenchOptions): Promise<string> {
  const results = KINDS.map(() => [] as Drain[]);
  for (let r = 0; r < o.runs; r++) {
    for (const [i, kind] of KINDS.entries()) results[i]?.push(await drain(o, kind.options));
    o.log(`flow run ${r + 1}/${o.runs} done`);
  }
  const med = results.map((runs) => ({
    perSecond: median(runs.map((d) => d.perSecond)),
    workerCpuUs: median(runs.map((d) => d.workerCpuUs)),
    redisCpuUs: median(runs.map((d) => d.redisCpuUs)),
  }));
  const base = med[0] as Drain;
  return [
    `One worker (concurrency 50, Redis broker, \`RedisFlowControl\`, no result backend) drains ${fmt(o.tasks)} pre-enqueued no-op tasks; the limits are never reached, so every limited task pays the store's round trips and none waits. Median of ${o.runs} alternated runs. redis-server CPU is read from \`INFO cpu\`: other clients of the same server count in it.`,
    '',
    table(
      [
        'tasks',
        'tasks/s',
        'limited / unlimited',
        'worker CPU per task (µs)',
        'limited / unlimited',
        'redis-server CPU per task (µs)',
        'limited / unlimited',
      ],
      KINDS.map((kind, i) => {
        const m = med[i] as Drain;
        return [
          kind.name,
          fmt(m.perSecond),
          i === 0 ? '—' : ratio(m.perSecond, base.perSecond),
          fmt(m.workerCpuUs),
          i === 0 ? '—' : ratio(m.workerCpuUs, base.workerCpuUs),
          fmt(m.redisCpuUs),
          i === 0 ? '—' : ratio(m.redisCpuUs, base.redisCpuUs),
        ];
      }),
    ),
  ].join('\n');
}
