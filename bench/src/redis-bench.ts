import { Redis } from 'ioredis';
import { totalCommands, usedMemory } from './redis-info.js';
import { WorkerProcess } from './runner.js';
import { fmt, median, nowMs, percentile, ratio, sorted, table } from './stats.js';
import { bullmqProducer } from './systems/bullmq.js';
import { machineryProducer } from './systems/machinery.js';
import { rawRedisProducer } from './systems/raw-redis.js';
import type { Producer, SystemName, WorkerConfig } from './systems/types.js';

/** Sizes of one benchmark run. */
export interface RedisBenchOptions {
  redisUrl: string;
  /** Pre-enqueued tasks per drain run (20 000). */
  drainTasks: number;
  /** Tasks sent in the latency run (at `rate` per second). */
  latencyTasks: number;
  rate: number;
  /** Tasks queued for the memory measurement (100 000). */
  memoryTasks: number;
  /** Repetitions of each drain configuration; the median is reported. */
  runs: number;
  /** Measure crash-to-redelivery (takes up to a minute for BullMQ's defaults). */
  crash: boolean;
  log: (line: string) => void;
}

const REDIS_SYSTEMS = ['machinery', 'bullmq', 'raw-redis'] as const;
type RedisSystem = (typeof REDIS_SYSTEMS)[number];
const LABEL: Record<RedisSystem, string> = {
  machinery: '@machinery',
  bullmq: 'BullMQ',
  'raw-redis': 'raw ioredis',
};

let runCounter = 0;
function queueName(system: string): string {
  runCounter++;
  return `bench_${system.replace(/[^a-z]/g, '')}_${process.pid}_${runCounter}`;
}

function producerFor(system: RedisSystem, config: WorkerConfig): Promise<Producer> {
  switch (system) {
    case 'machinery':
      return machineryProducer(config);
    case 'bullmq':
      return bullmqProducer(config);
    case 'raw-redis':
      return rawRedisProducer(config);
  }
}

function config(system: SystemName, o: RedisBenchOptions, extra: Partial<WorkerConfig>): WorkerConfig {
  return {
    system,
    queue: queueName(system),
    concurrency: 1,
    withBackend: false,
    expect: 0,
    mode: 'noop',
    redisUrl: o.redisUrl,
    amqpUrl: '',
    ...extra,
  };
}

interface DrainResult {
  rate: number;
  peakRss: number;
  commandsPerTask: number;
}

async function drainOnce(
  system: RedisSystem,
  o: RedisBenchOptions,
  concurrency: number,
  withBackend: boolean,
  stats: Redis,
) {
  const cfg = config(system, o, { concurrency, withBackend, expect: o.drainTasks });
  const producer = await producerFor(system, cfg);
  try {
    const before = await totalCommands(stats);
    await producer.enqueueBulk(o.drainTasks, 1000);
    const worker = new WorkerProcess(cfg);
    await worker.next('ready');
    worker.go();
    const done = await worker.next('done');
    await worker.stop();
    const after = await totalCommands(stats);
    return {
      rate: (done.completed / done.elapsedMs) * 1000,
      peakRss: done.peakRss,
      // INFO itself counts once per call; subtract the two INFO calls.
      commandsPerTask: (after - before - 1) / o.drainTasks,
    } satisfies DrainResult;
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

async function drain(
  system: RedisSystem,
  o: RedisBenchOptions,
  c: number,
  withBackend: boolean,
  stats: Redis,
) {
  const results: DrainResult[] = [];
  for (let i = 0; i < o.runs; i++) results.push(await drainOnce(system, o, c, withBackend, stats));
  return {
    rate: median(results.map((r) => r.rate)),
    peakRss: Math.max(...results.map((r) => r.peakRss)),
    commandsPerTask: median(results.map((r) => r.commandsPerTask)),
  };
}

async function enqueueRate(system: RedisSystem, o: RedisBenchOptions, withBackend: boolean): Promise<number> {
  const cfg = config(system, o, { withBackend });
  const producer = await producerFor(system, cfg);
  try {
    // Connect (and load scripts) before the clock starts: connection set-up is not enqueue throughput.
    await producer.enqueueBulk(100, 100);
    const t0 = nowMs();
    await producer.enqueueBulk(o.drainTasks, 1000);
    return (o.drainTasks / (nowMs() - t0)) * 1000;
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

async function latency(system: RedisSystem, o: RedisBenchOptions) {
  const withBackend = system !== 'raw-redis';
  const cfg = config(system, o, { concurrency: 50, withBackend, mode: 'latency', expect: o.latencyTasks });
  const producer = await producerFor(system, cfg);
  try {
    const worker = new WorkerProcess(cfg);
    await worker.next('ready');
    worker.go();
    const interval = 1000 / o.rate;
    const t0 = nowMs() + 50;
    const resultLatencies: Promise<number>[] = [];
    for (let i = 0; i < o.latencyTasks; i++) {
      const due = t0 + i * interval;
      const wait = due - nowMs();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const sentAt = nowMs();
      await producer.send(sentAt);
      if (producer.resultOf) resultLatencies.push(producer.resultOf(sentAt).then((at) => at - sentAt));
    }
    const done = await worker.next('done');
    await worker.stop();
    const start = sorted(done.startLatencies);
    const result = sorted(await Promise.all(resultLatencies));
    return {
      startP50: percentile(start, 50),
      startP99: percentile(start, 99),
      resultP50: percentile(result, 50),
      resultP99: percentile(result, 99),
    };
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

async function memoryPer100k(system: RedisSystem, o: RedisBenchOptions, stats: Redis): Promise<number> {
  const cfg = config(system, o, {});
  const producer = await producerFor(system, cfg);
  try {
    const before = await usedMemory(stats);
    await producer.enqueueBulk(o.memoryTasks, 1000);
    const after = await usedMemory(stats);
    return ((after - before) / o.memoryTasks) * 100_000;
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

async function crashToRedelivery(system: RedisSystem, o: RedisBenchOptions): Promise<number> {
  const victimCfg = config(system, o, { mode: 'hang', expect: 0, concurrency: 1 });
  const producer = await producerFor(system, victimCfg);
  const victim = new WorkerProcess(victimCfg);
  const rescuer = new WorkerProcess({ ...victimCfg, mode: 'noop', expect: 1 });
  try {
    await victim.next('ready');
    victim.go();
    await producer.sendHang();
    await victim.next('started');
    await rescuer.next('ready');
    rescuer.go();
    const killedAt = nowMs();
    victim.kill();
    const again = await rescuer.next('started', 180_000);
    return again.at - killedAt;
  } finally {
    victim.kill();
    await rescuer.stop(1000);
    await producer.cleanup();
    await producer.close();
  }
}

/** Runs the Redis comparison and returns its Markdown report. */
export async function redisBench(o: RedisBenchOptions): Promise<string> {
  const stats = new Redis(o.redisUrl);
  const out: string[] = [];
  const mb = (bytes: number) => fmt(bytes / 1024 / 1024, 1);
  try {
    o.log('redis: bulk enqueue');
    const enqueue: Record<string, number> = {};
    for (const s of REDIS_SYSTEMS) enqueue[s] = await enqueueRate(s, o, false);
    enqueue.machineryBackend = await enqueueRate('machinery', o, true);
    out.push(`### Bulk enqueue (${fmt(o.drainTasks)} tasks, batches of 1000)\n`);
    out.push(
      table(
        ['system', 'tasks/s', 'ours / BullMQ'],
        [
          [
            '@machinery (publishMany, no backend)',
            fmt(enqueue.machinery as number),
            ratio(enqueue.machinery as number, enqueue.bullmq as number),
          ],
          [
            '@machinery (sendMany, PENDING states)',
            fmt(enqueue.machineryBackend as number),
            ratio(enqueue.machineryBackend as number, enqueue.bullmq as number),
          ],
          ['BullMQ (addBulk)', fmt(enqueue.bullmq as number), ''],
          ['raw ioredis (RPUSH)', fmt(enqueue['raw-redis'] as number), ''],
        ],
      ),
    );

    const drainRows: string[][] = [];
    const rss: Record<string, number> = {};
    const cmds: string[][] = [];
    for (const withBackend of [false, true]) {
      for (const c of [1, 10, 100]) {
        const row: Record<string, { rate: number; peakRss: number; commandsPerTask: number }> = {};
        for (const s of REDIS_SYSTEMS) {
          if (withBackend && s === 'raw-redis') continue;
          o.log(`redis: drain ${LABEL[s]} c=${c} backend=${withBackend}`);
          row[s] = await drain(s, o, c, withBackend, stats);
        }
        const ours = row.machinery as DrainResult;
        const bull = row.bullmq as DrainResult;
        drainRows.push([
          withBackend ? 'Redis backend / kept' : 'none / removed',
          String(c),
          fmt(ours.rate),
          fmt(bull.rate),
          row['raw-redis'] ? fmt(row['raw-redis'].rate) : '—',
          ratio(ours.rate, bull.rate),
        ]);
        cmds.push([
          withBackend ? 'with backend' : 'no backend',
          String(c),
          fmt(ours.commandsPerTask, 1),
          fmt(bull.commandsPerTask, 1),
          ratio(ours.commandsPerTask, bull.commandsPerTask),
        ]);
        if (c === 100) {
          rss[`ours${withBackend}`] = ours.peakRss;
          rss[`bull${withBackend}`] = bull.peakRss;
        }
      }
    }
    out.push(`\n### Drain of ${fmt(o.drainTasks)} pre-enqueued no-op tasks (tasks/s, median of ${o.runs})\n`);
    out.push(
      table(
        ['results', 'concurrency', '@machinery', 'BullMQ', 'raw ioredis BLPOP', 'ours / BullMQ'],
        drainRows,
      ),
    );

    o.log('redis: latency');
    // Alternated runs, median of each percentile: a single run's p99 moves with whatever else the two
    // cores happen to do during it.
    const runsOf: Record<string, Awaited<ReturnType<typeof latency>>[]> = {};
    for (const s of REDIS_SYSTEMS) runsOf[s] = [];
    for (let i = 0; i < o.runs; i++) for (const s of REDIS_SYSTEMS) runsOf[s]?.push(await latency(s, o));
    const lat: Record<string, Awaited<ReturnType<typeof latency>>> = {};
    for (const s of REDIS_SYSTEMS) {
      const r = runsOf[s] ?? [];
      lat[s] = {
        startP50: median(r.map((x) => x.startP50)),
        startP99: median(r.map((x) => x.startP99)),
        resultP50: median(r.map((x) => x.resultP50)),
        resultP99: median(r.map((x) => x.resultP99)),
      };
    }
    const l = (s: RedisSystem) => lat[s] as Awaited<ReturnType<typeof latency>>;
    out.push(
      `\n### Latency at a steady ${o.rate} tasks/s (${fmt(o.latencyTasks)} tasks, worker concurrency 50, ms, median of ${o.runs} alternated runs)\n`,
    );
    out.push(
      table(
        ['system', 'send→start p50', 'send→start p99', 'send→result p50', 'send→result p99'],
        REDIS_SYSTEMS.map((s) => [
          LABEL[s],
          fmt(l(s).startP50, 2),
          fmt(l(s).startP99, 2),
          fmt(l(s).resultP50, 2),
          fmt(l(s).resultP99, 2),
        ]),
      ),
    );
    out.push(
      `\nRatios ours / BullMQ: send→start p99 ${ratio(l('machinery').startP99, l('bullmq').startP99)}, send→result p99 ${ratio(l('machinery').resultP99, l('bullmq').resultP99)} (lower is better).`,
    );

    out.push('\n### Worker peak RSS (drain at concurrency 100)\n');
    out.push(
      table(
        ['results', '@machinery MB', 'BullMQ MB', 'ours / BullMQ'],
        [false, true].map((b) => [
          b ? 'with backend' : 'no backend',
          mb(rss[`ours${b}`] as number),
          mb(rss[`bull${b}`] as number),
          ratio(rss[`ours${b}`] as number, rss[`bull${b}`] as number),
        ]),
      ),
    );

    out.push('\n### Redis commands per task (INFO commandstats delta over enqueue + drain ÷ tasks)\n');
    out.push(table(['results', 'concurrency', '@machinery', 'BullMQ', 'ours / BullMQ'], cmds));

    o.log('redis: memory');
    const mem: Record<string, number> = {};
    for (const s of REDIS_SYSTEMS) mem[s] = await memoryPer100k(s, o, stats);
    out.push(
      `\n### Redis memory per 100k queued tasks (used_memory delta after ${fmt(o.memoryTasks)} queued)\n`,
    );
    out.push(
      table(
        ['system', 'MB per 100k', 'ours / BullMQ'],
        REDIS_SYSTEMS.map((s) => [
          LABEL[s],
          mb(mem[s] as number),
          s === 'machinery' ? ratio(mem.machinery as number, mem.bullmq as number) : '',
        ]),
      ),
    );

    if (o.crash) {
      o.log('redis: crash-to-redelivery');
      const ours = await crashToRedelivery('machinery', o);
      const bull = await crashToRedelivery('bullmq', o);
      out.push(
        '\n### Crash to redelivery (SIGKILL a worker holding a task; time until another worker starts it)\n',
      );
      out.push(
        table(
          ['system', 'seconds', 'ours / BullMQ'],
          [
            ['@machinery (lease 10 s default)', fmt(ours / 1000, 1), ratio(ours, bull)],
            ['BullMQ (defaults: lock 30 s, stalled check 30 s)', fmt(bull / 1000, 1), ''],
          ],
        ),
      );
    }
  } finally {
    stats.disconnect();
  }
  return out.join('\n');
}
