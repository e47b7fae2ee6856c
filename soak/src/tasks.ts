import { setTimeout as sleep } from 'node:timers/promises';
import { defineTask, type TaskContext } from '@machinery/core';
import { Redis } from 'ioredis';
import { CHAIN_LINK, CHORD_CALLBACK, LIMITED, type RunConfig, soakKeys, TASK } from './config.js';
import { LIMIT_LEASE_MS, LIMIT_MAX, LIMIT_RETRY_MS } from './limited.js';

// The soak's tasks. A worker process registers them, and a worker with a thread pool runs them in its
// threads too: every thread imports this module, so its state (the Redis client for the bookkeeping)
// is made on first use, per thread, from the run's config in SOAK_WORKER_CONFIG (the worker process
// sets it before its threads start; threads get a copy of the environment).

let state: { redis: Redis; keys: ReturnType<typeof soakKeys> } | undefined;
function bookkeeping() {
  if (state === undefined) {
    const config = JSON.parse(process.env.SOAK_WORKER_CONFIG ?? '{}') as RunConfig;
    // Straight to Redis (not through the proxy): a cut must not lose a count.
    const redis = new Redis(config.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: null });
    redis.on('error', () => {});
    state = { redis, keys: soakKeys(config.prefix) };
  }
  return state;
}

/** Closes this thread's (or process's) bookkeeping client, if one was made. */
export async function closeBookkeeping(): Promise<void> {
  await state?.redis.quit();
  state = undefined;
}

const pause = () => sleep(Math.floor(Math.random() * 21));

/** Records one execution of a task body: its count, and who ran it when (for the report's examples). */
function ran(ctx: TaskContext, chordCallback = false): Promise<unknown> {
  const { redis, keys } = bookkeeping();
  const uuid = ctx.signature.uuid;
  const m = redis
    .multi()
    .hincrby(keys.exec, uuid, 1)
    .rpush(keys.execLog, `${uuid} ${process.pid} ${ctx.attempt} ${Date.now()}`);
  if (chordCallback) m.hincrby(keys.chord, uuid, 1);
  return m.exec();
}

/**
 * `soak_task(n, flaky, slowMs?)`. A slow task stops when revoked while it runs, as a task honouring
 * its AbortSignal does (in a pool thread, revocation terminates the thread instead).
 */
export const task = defineTask(TASK, async function (n: number, flaky: boolean, slowMs?: number) {
  if (slowMs !== undefined && slowMs > 0) await sleep(slowMs, undefined, { signal: this.signal });
  else await pause();
  const { redis, keys } = bookkeeping();
  if (flaky && (await redis.hincrby(keys.attempts, this.signature.uuid, 1)) === 1) {
    throw new Error('planned failure on the first attempt');
  }
  await ran(this);
  return n * 2;
});

/** `soak_chain(n, ...previous)`. */
export const link = defineTask(CHAIN_LINK, async function (n: number, ...previous: number[]) {
  await pause();
  await ran(this);
  return n + previous.reduce((a, b) => a + b, 0);
});

/** `soak_chord_cb(...results)`. */
export const callback = defineTask(CHORD_CALLBACK, async function (...results: number[]) {
  await ran(this, true);
  return results.reduce((a, b) => a + b, 0);
});

/**
 * `soak_limited(n, key, ms)`: at most {@link LIMIT_MAX} run at once per `key` across the workers (the
 * flow middleware hands the others back until a slot frees); runs `ms`, stopping when revoked.
 */
export const limited = defineTask(
  LIMITED,
  async function (n: number, _key: string, ms: number) {
    await sleep(ms, undefined, { signal: this.signal });
    await ran(this);
    return n * 2;
  },
  {
    concurrencyLimit: {
      max: LIMIT_MAX,
      key: (_n, key) => key,
      leaseMs: LIMIT_LEASE_MS,
      retryDelayMs: LIMIT_RETRY_MS,
    },
  },
);
