import { Redis } from 'ioredis';
import { totalCommands, usedMemory } from './redis-info.js';
import { WorkerProcess } from './runner.js';
import { fmt, median, nowMs, percentile, ratio, sorted, table } from './stats.js';
import { beeQueueProducer } from './systems/bee-queue.js';
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

const REDIS_SYSTEMS = ['machinery', 'bullmq', 'bee-queue', 'raw-redis'] as const;
type RedisSystem = (typeof REDIS_SYSTEMS)[number];
/** The task queues compared (the raw client is a ceiling, not a peer). */
const QUEUES = ['machinery', 'bullmq', 'bee-queue'] as const;
const LABEL: Record<RedisSystem, string> = {
  machinery: '@machinery',
  bullmq: 'BullMQ',
  'bee-queue': 'bee-queue',
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
    case 'bee-queue':
      return beeQueueProducer(config);
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

/**
 * Single sends with `inFlight` outstanding at a time (each a full `send`: with a backend ours stores
 * PENDING, BullMQ and bee-queue keep the job), the figure a web app sending tasks from requests sees.
 */
async function sendRate(system: RedisSystem, o: RedisBenchOptions, inFlight: number): Promise<number> {
  const cfg = config(system, o, { withBackend: system !== 'raw-redis' });
  const producer = await producerFor(system, cfg);
  try {
    await producer.enqueueBulk(100, 100);
    let next = 0;
    const t0 = nowMs();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < o.drainTasks) await producer.send(next++);
      }),
    );
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
  const vs = (ours: number, peers: Record<string, number | undefined>) =>
    [peers.bullmq, peers['bee-queue']].map((p) => (p === undefined ? '—' : ratio(ours, p)));
  try {
    o.log('redis: bulk enqueue');
    const bulk: Record<string, Record<string, number>> = { false: {}, true: {} };
    for (const withBackend of [false, true]) {
      for (const s of REDIS_SYSTEMS) {
        if (withBackend && s === 'raw-redis') continue;
        (bulk[String(withBackend)] as Record<string, number>)[s] = await enqueueRate(s, o, withBackend);
      }
    }
    out.push(`### Bulk enqueue (${fmt(o.drainTasks)} tasks, batches of 1000, tasks/s)\n`);
    out.push(
      table(
        [
          'results',
          '@machinery',
          'BullMQ addBulk',
          'bee-queue saveAll',
          'raw RPUSH',
          'ours / BullMQ',
          'ours / bee-queue',
        ],
        [false, true].map((b) => {
          const r = bulk[String(b)] as Record<string, number>;
          return [
            b ? 'kept (ours: sendMany + PENDING)' : 'none (ours: publishMany)',
            fmt(r.machinery as number),
            fmt(r.bullmq as number),
            fmt(r['bee-queue'] as number),
            r['raw-redis'] === undefined ? '—' : fmt(r['raw-redis']),
            ...vs(r.machinery as number, r),
          ];
        }),
      ),
    );

    o.log('redis: single sends, 100 in flight');
    const single: Record<string, number> = {};
    for (const s of QUEUES) single[s] = await sendRate(s, o, 100);
    out.push(
      `\n### Single sends, 100 in flight, results kept (ours: send + PENDING; BullMQ add; bee-queue save; tasks/s)\n`,
    );
    out.push(
      table(
        ['@machinery', 'BullMQ', 'bee-queue', 'ours / BullMQ', 'ours / bee-queue'],
        [[...QUEUES.map((s) => fmt(single[s] as number)), ...vs(single.machinery as number, single)]],
      ),
    );

    const drainRows: string[][] = [];
    const rss: Record<string, Record<string, number>> = { false: {}, true: {} };
    const cmds: string[][] = [];
    for (const withBackend of [false, true]) {
      for (const c of [1, 10, 100]) {
        const row: Record<string, DrainResult> = {};
        for (const s of REDIS_SYSTEMS) {
          if (withBackend && s === 'raw-redis') continue;
          o.log(`redis: drain ${LABEL[s]} c=${c} backend=${withBackend}`);
          row[s] = await drain(s, o, c, withBackend, stats);
        }
        const rate = (s: RedisSystem) => row[s]?.rate;
        const ours = row.machinery as DrainResult;
        drainRows.push([
          withBackend ? 'stored / kept' : 'none / removed',
          String(c),
          ...REDIS_SYSTEMS.map((s) => (row[s] ? fmt(row[s].rate) : '—')),
          ...vs(ours.rate, { bullmq: rate('bullmq'), 'bee-queue': rate('bee-queue') }),
        ]);
        const perTask = (s: RedisSystem) => row[s]?.commandsPerTask;
        cmds.push([
          withBackend ? 'stored / kept' : 'none / removed',
          String(c),
          ...QUEUES.map((s) => fmt(perTask(s) as number, 1)),
          ...vs(ours.commandsPerTask, { bullmq: perTask('bullmq'), 'bee-queue': perTask('bee-queue') }),
        ]);
        if (c === 100)
          for (const s of QUEUES)
            (rss[String(withBackend)] as Record<string, number>)[s] = row[s]?.peakRss as number;
      }
    }
    out.push(`\n### Drain of ${fmt(o.drainTasks)} pre-enqueued no-op tasks (tasks/s, median of ${o.runs})\n`);
    out.push(
      table(
        [
          'results',
          'concurrency',
          ...REDIS_SYSTEMS.map((s) => LABEL[s]),
          'ours / BullMQ',
          'ours / bee-queue',
        ],
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
    const p99 = (s: RedisSystem) =>
      `send→start p99 ${ratio(l('machinery').startP99, l(s).startP99)}, send→result p99 ${ratio(l('machinery').resultP99, l(s).resultP99)}`;
    out.push(
      `\nRatios ours / BullMQ: ${p99('bullmq')}; ours / bee-queue: ${p99('bee-queue')} (lower is better).`,
    );

    out.push('\n### Worker peak RSS (drain at concurrency 100)\n');
    out.push(
      table(
        ['results', '@machinery MB', 'BullMQ MB', 'bee-queue MB', 'ours / BullMQ', 'ours / bee-queue'],
        [false, true].map((b) => {
          const r = rss[String(b)] as Record<string, number>;
          return [
            b ? 'stored / kept' : 'none / removed',
            ...QUEUES.map((s) => mb(r[s] as number)),
            ...vs(r.machinery as number, r),
          ];
        }),
      ),
    );

    out.push('\n### Redis commands per task (INFO commandstats delta over enqueue + drain ÷ tasks)\n');
    out.push(
      table(
        ['results', 'concurrency', '@machinery', 'BullMQ', 'bee-queue', 'ours / BullMQ', 'ours / bee-queue'],
        cmds,
      ),
    );

    o.log('redis: memory');
    const mem: Record<string, number> = {};
    for (const s of REDIS_SYSTEMS) mem[s] = await memoryPer100k(s, o, stats);
    out.push(
      `\n### Redis memory per 100k queued tasks (used_memory delta after ${fmt(o.memoryTasks)} queued)\n`,
    );
    out.push(
      table(
        ['system', 'MB per 100k', 'ours / BullMQ', 'ours / bee-queue'],
        REDIS_SYSTEMS.map((s) => [
          LABEL[s],
          mb(mem[s] as number),
          ...(s === 'machinery' ? vs(mem.machinery as number, mem) : ['', '']),
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
