import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { RedisFlowControl } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, Server, silentLogger } from '@machinery/core';
import { Redis } from 'ioredis';
import { deleteKeys } from './redis-info.js';

// A rate limit on Redis, measured: `node dist/rate-limit-bench.js` — three worker processes share one
// rate limit (200 tasks/s by default) over 30 s: the achieved rate and the busiest 1-second windows
// (issue 14's target). Options: --rate 200 --seconds 30 --workers 3. What a limit costs a task under
// it is a section of `pnpm bench` (`--only flow`, flow-bench.ts).

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

type ChildConfig = { prefix: string; rate: number; concurrency: number };
/** What a worker's store was asked: in all, refusals, refusals of a task refused before, late re-asks. */
type Asks = { asks: number; refused: number; refusedAgain: number; lateReasks: number };
type FromChild = { ready: true } | { started: number } | { times: number[]; asks: Asks };

async function child(config: ChildConfig): Promise<void> {
  const send = (m: FromChild) => process.send?.(m);
  const times: number[] = [];
  const flow = new RedisFlowControl({ url: REDIS_URL, prefix: config.prefix });
  // A counting view of the store, to tell where the rate goes: refusals of tasks that came back at their
  // wake-up time (they go to the end of the line) and second asks after an answer read too late.
  const asks: Asks = { asks: 0, refused: 0, refusedAgain: 0, lateReasks: 0 };
  const refusedBefore = new Set<string>();
  const server = new Server({
    broker: new RedisBroker({ url: REDIS_URL, prefix: config.prefix, logger: silentLogger }),
    flow: {
      rateLimits: {
        async acquire(key, uuid, rule, withdrawMs) {
          asks.asks++;
          if ((rule.startWithinMs ?? 0) > 1000 / 100) asks.lateReasks++;
          const wait = await flow.rateLimits.acquire(key, uuid, rule, withdrawMs);
          if (wait > 0) {
            asks.refused++;
            if (refusedBefore.has(uuid)) asks.refusedAgain++;
            refusedBefore.add(uuid);
          }
          return wait;
        },
      },
      close: () => flow.close(),
    },
    logger: silentLogger,
  });
  server.register(
    defineTask(
      'limited',
      () => {
        times.push(Date.now());
      },
      { rateLimit: { max: config.rate, perMs: 1000 } },
    ),
  );
  await server.worker({ concurrency: config.concurrency, handleSignals: false }).start();
  const progress = setInterval(() => send({ started: times.length }), 250);
  process.on('message', async (m: unknown) => {
    if (m !== 'report') return;
    clearInterval(progress);
    send({ times, asks });
    await server.close();
    process.exit(0);
  });
  send({ ready: true });
}

async function rateRun(): Promise<void> {
  const rate = option('rate', 200);
  const seconds = option('seconds', 30);
  const workers = option('workers', 3);
  // Enough for the whole measured span plus a margin, so that the limit, not the supply, sets the pace.
  const total = rate * (seconds + 3);
  const prefix = `rlbench${randomBytes(4).toString('hex')}:`;
  const self = fileURLToPath(import.meta.url);
  const started = new Array<number>(workers).fill(0);
  const times: number[][] = [];
  const asks: Asks[] = [];
  const children = Array.from({ length: workers }, (_, i) =>
    fork(self, ['--child', JSON.stringify({ prefix, rate, concurrency: 20 } satisfies ChildConfig)]).on(
      'message',
      (m: FromChild) => {
        if ('started' in m) started[i] = m.started;
        if ('times' in m) {
          times[i] = m.times;
          asks[i] = m.asks;
        }
      },
    ),
  );
  await Promise.all(
    children.map(
      (c) => new Promise<void>((resolve) => c.on('message', (m: FromChild) => 'ready' in m && resolve())),
    ),
  );
  const producer = new Server({
    broker: new RedisBroker({ url: REDIS_URL, prefix, logger: silentLogger }),
    logger: silentLogger,
  });
  const limited = defineTask('limited', () => {});
  for (let sent = 0; sent < total; sent += 500) {
    await producer.sendMany(Array.from({ length: Math.min(500, total - sent) }, () => limited.signature()));
  }
  const deadline = Date.now() + (seconds + 60) * 1000;
  while (started.reduce((a, b) => a + b, 0) < total && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const c of children) c.send('report');
  await Promise.all(children.map((c) => new Promise((resolve) => c.on('exit', resolve))));
  await producer.close();
  const redis = new Redis(REDIS_URL);
  await deleteKeys(redis, `${prefix}*`);
  redis.disconnect();

  const all = times.flat().sort((a, b) => a - b);
  const t0 = all[0] as number;
  const windows = new Array<number>(seconds).fill(0);
  for (const at of all) {
    const k = Math.floor((at - t0) / 1000);
    if (k < seconds) windows[k] = (windows[k] as number) + 1;
  }
  // The busiest window of 1 s ending at any start, over the whole run and once the flood of first
  // requests has been handed back (from the third second on).
  let slidingMax = 0;
  let slidingMaxAt = 0;
  let steadySlidingMax = 0;
  for (let i = 0, j = 0; i < all.length; i++) {
    while ((all[j] as number) < (all[i] as number) - 999) j++;
    const count = i - j + 1;
    if (count > slidingMax) {
      slidingMax = count;
      slidingMaxAt = ((all[i] as number) - t0) / 1000;
    }
    if ((all[j] as number) >= t0 + 2000) steadySlidingMax = Math.max(steadySlidingMax, count);
  }
  const inSpan = windows.reduce((a, b) => a + b, 0);
  const achieved = inSpan / seconds;
  console.log(
    JSON.stringify(
      {
        limit: rate,
        workers,
        seconds,
        tasks: all.length,
        perWorker: times.map((t) => t.length),
        achievedPerSecond: Number(achieved.toFixed(1)),
        achievedVsLimit: `${(((achieved - rate) / rate) * 100).toFixed(2)} %`,
        busiestAlignedSecond: Math.max(...windows),
        quietestAlignedSecond: Math.min(...windows),
        busiestSlidingSecond: slidingMax,
        busiestSlidingSecondEndsAtS: Number(slidingMaxAt.toFixed(2)),
        busiestSlidingSecondFromSecond2: steadySlidingMax,
        asks: {
          asks: asks.reduce((a, x) => a + x.asks, 0),
          refused: asks.reduce((a, x) => a + x.refused, 0),
          refusedAgain: asks.reduce((a, x) => a + x.refusedAgain, 0),
          lateReasks: asks.reduce((a, x) => a + x.lateReasks, 0),
        },
        windows,
      },
      null,
      2,
    ),
  );
}

if (args[0] === '--child') await child(JSON.parse(args[1] as string) as ChildConfig);
else {
  await rateRun();
  process.exit(0);
}
