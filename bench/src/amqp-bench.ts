import { WorkerProcess } from './runner.js';
import { fmt, median, nowMs, ratio, table } from './stats.js';
import { machineryAmqpProducer } from './systems/machinery-amqp.js';
import { rawAmqpProducer } from './systems/raw-amqp.js';
import type { Producer, WorkerConfig } from './systems/types.js';

/** Sizes of the RabbitMQ comparison. */
export interface AmqpBenchOptions {
  amqpUrl: string;
  tasks: number;
  runs: number;
  log: (line: string) => void;
}

type AmqpSystem = 'machinery-amqp' | 'raw-amqp';
let counter = 0;

function config(system: AmqpSystem, o: AmqpBenchOptions, extra: Partial<WorkerConfig>): WorkerConfig {
  counter++;
  return {
    system,
    queue: `bench_${system.replace(/[^a-z]/g, '')}_${process.pid}_${counter}`,
    concurrency: 1,
    withBackend: false,
    expect: 0,
    mode: 'noop',
    redisUrl: '',
    amqpUrl: o.amqpUrl,
    ...extra,
  };
}

function producerFor(system: AmqpSystem, cfg: WorkerConfig): Promise<Producer> {
  return system === 'raw-amqp' ? rawAmqpProducer(cfg) : machineryAmqpProducer(cfg);
}

async function publishRate(system: AmqpSystem, o: AmqpBenchOptions): Promise<number> {
  const cfg = config(system, o, {});
  const producer = await producerFor(system, cfg);
  try {
    // Connect and declare before the clock starts: connection set-up is not publish throughput.
    await producer.enqueueBulk(100, 100);
    const t0 = nowMs();
    await producer.enqueueBulk(o.tasks, 1000);
    return (o.tasks / (nowMs() - t0)) * 1000;
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

async function drainOnce(system: AmqpSystem, o: AmqpBenchOptions, concurrency: number): Promise<number> {
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

/** Runs the RabbitMQ comparison and returns its Markdown report. */
export async function amqpBench(o: AmqpBenchOptions): Promise<string> {
  const out: string[] = [];
  // Alternated, several times: RabbitMQ's own state (message store, memory) drifts during a run, and
  // alternating spreads that drift over both sides instead of charging it to whichever runs second.
  const oursRuns: number[] = [];
  const rawRuns: number[] = [];
  for (let i = 0; i < Math.max(3, o.runs); i++) {
    o.log(`amqp: publish run ${i + 1}`);
    oursRuns.push(await publishRate('machinery-amqp', o));
    rawRuns.push(await publishRate('raw-amqp', o));
  }
  const pubOurs = median(oursRuns);
  const pubRaw = median(rawRuns);
  out.push(
    `### Confirmed publish (${fmt(o.tasks)} persistent messages in batches of 1000, median of ${oursRuns.length} alternated runs)\n`,
  );
  out.push(
    table(
      ['system', 'messages/s', 'ours / raw'],
      [
        ['@machinery AmqpBroker.publishMany', fmt(pubOurs), ratio(pubOurs, pubRaw)],
        ['raw amqplib (confirm channel)', fmt(pubRaw), ''],
      ],
    ),
  );
  const rows: string[][] = [];
  for (const c of [1, 10, 100]) {
    const ours: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      o.log(`amqp: drain c=${c} run ${i + 1}`);
      ours.push(await drainOnce('machinery-amqp', o, c));
      raw.push(await drainOnce('raw-amqp', o, c));
    }
    rows.push([String(c), fmt(median(ours)), fmt(median(raw)), ratio(median(ours), median(raw))]);
  }
  out.push(`\n### Drain of ${fmt(o.tasks)} no-op tasks, no result backend (tasks/s, median of ${o.runs})\n`);
  out.push(table(['prefetch = concurrency', '@machinery worker', 'raw consume + ack', 'ours / raw'], rows));
  return out.join('\n');
}
