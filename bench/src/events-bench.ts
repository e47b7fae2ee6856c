import { Redis } from 'ioredis';
import { totalCommands } from './redis-info.js';
import { WorkerProcess } from './runner.js';
import { fmt, median, nowMs, ratio, table } from './stats.js';
import { machineryProducer } from './systems/machinery.js';
import type { WorkerConfig } from './systems/types.js';

/** Sizes of the events-on-vs-off run. */
export interface EventsBenchOptions {
  redisUrl: string;
  /** Tasks per drain and per send measurement. */
  tasks: number;
  /** Repetitions; the three setups alternate within each, the median is reported. */
  runs: number;
  log: (line: string) => void;
}

/** The three setups compared: no control plane, a `RedisControlPlane` with events off, with events on. */
const SETUPS = ['none', 'events-off', 'events-on'] as const;
type Setup = (typeof SETUPS)[number];
const LABEL: Record<Setup, string> = {
  none: 'no control plane',
  'events-off': 'control, events off',
  'events-on': 'control, events on',
};
/** The drain's worker concurrency, and the sends in flight (as in the Redis section). */
const CONCURRENCY = 10;
const IN_FLIGHT = 100;

let runCounter = 0;
function config(setup: Setup, o: EventsBenchOptions, extra: Partial<WorkerConfig> = {}): WorkerConfig {
  runCounter++;
  return {
    system: 'machinery',
    queue: `bench_events_${process.pid}_${runCounter}`,
    concurrency: CONCURRENCY,
    withBackend: true,
    expect: 0,
    mode: 'noop',
    redisUrl: o.redisUrl,
    amqpUrl: '',
    ...(setup === 'none' ? {} : { control: setup }),
    ...extra,
  };
}

/** One drain of `tasks` pre-enqueued no-op tasks, results stored, by one worker process. */
async function drainOnce(setup: Setup, o: EventsBenchOptions, stats: Redis) {
  const cfg = config(setup, o, { expect: o.tasks });
  const producer = await machineryProducer(cfg);
  try {
    await producer.enqueueBulk(o.tasks, 1000);
    const worker = new WorkerProcess(cfg);
    await worker.next('ready');
    const before = await totalCommands(stats);
    worker.go();
    const done = await worker.next('done');
    const after = await totalCommands(stats);
    await worker.stop();
    return {
      rate: (done.completed / done.elapsedMs) * 1000,
      // INFO itself counts once per call.
      commandsPerTask: (after - before - 1) / o.tasks,
    };
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

/** `tasks` single sends with {@link IN_FLIGHT} outstanding, each storing PENDING (and a `sent` event). */
async function sendOnce(setup: Setup, o: EventsBenchOptions): Promise<number> {
  const producer = await machineryProducer(config(setup, o));
  try {
    // Connect and load scripts before the clock starts.
    await producer.enqueueBulk(100, 100);
    let next = 0;
    const t0 = nowMs();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < o.tasks) await producer.send(next++);
      }),
    );
    return (o.tasks / (nowMs() - t0)) * 1000;
  } finally {
    await producer.cleanup();
    await producer.close();
  }
}

/**
 * What task events cost: our drain (results stored, concurrency 10) and our send path (100 in flight,
 * PENDING stored) with no control plane, with a `RedisControlPlane` whose events are off
 * (`controlOptions: { events: false }`: revocation lookups, heartbeats and the subscriber remain), and
 * with events on (every task also publishes `received`, `started`, `succeeded`; every send `sent`).
 * The setups alternate within each run so that the machine's drift hits all three alike.
 */
export async function eventsBench(o: EventsBenchOptions): Promise<string> {
  const stats = new Redis(o.redisUrl);
  const drains: Record<Setup, { rate: number; commandsPerTask: number }[]> = {
    none: [],
    'events-off': [],
    'events-on': [],
  };
  const sends: Record<Setup, number[]> = { none: [], 'events-off': [], 'events-on': [] };
  try {
    for (let i = 0; i < o.runs; i++) {
      for (const setup of SETUPS) {
        o.log(`events: drain c=${CONCURRENCY}, ${LABEL[setup]} (run ${i + 1}/${o.runs})`);
        drains[setup].push(await drainOnce(setup, o, stats));
      }
      for (const setup of SETUPS) {
        o.log(`events: sends, ${LABEL[setup]} (run ${i + 1}/${o.runs})`);
        sends[setup].push(await sendOnce(setup, o));
      }
    }
  } finally {
    stats.disconnect();
  }
  const drainRate = (s: Setup) => median(drains[s].map((d) => d.rate));
  const commands = (s: Setup) => median(drains[s].map((d) => d.commandsPerTask));
  const sendRate = (s: Setup) => median(sends[s]);
  const row = (what: string, value: (s: Setup) => number, digits = 0) => [
    what,
    ...SETUPS.map((s) => fmt(value(s), digits)),
    ratio(value('events-on'), value('none')),
    ratio(value('events-off'), value('none')),
    ratio(value('events-on'), value('events-off')),
  ];
  return [
    `### Task events on vs off (${fmt(o.tasks)} tasks, median of ${o.runs} alternated runs)\n`,
    table(
      ['figure', ...SETUPS.map((s) => LABEL[s]), 'on / none', 'off / none', 'on / off'],
      [
        row(`drain c=${CONCURRENCY}, results stored (tasks/s)`, drainRate),
        row(`single sends, ${IN_FLIGHT} in flight, PENDING stored (tasks/s)`, sendRate),
        row(`Redis commands per task, drain c=${CONCURRENCY}`, commands, 1),
      ],
    ),
  ].join('\n');
}
