import { setTimeout as sleep } from 'node:timers/promises';
import { defineTask, type Logger, Server } from '@machinery/core';
import { Redis } from 'ioredis';
import {
  CHAIN_LINK,
  CHORD_CALLBACK,
  makeBackend,
  makeBroker,
  type RunConfig,
  soakKeys,
  TASK,
  type WorkerMessage,
} from './config.js';

// A soak worker process: `node dist/worker.js '<RunConfig JSON>'`. One Server and one Worker, broker
// through the runner's proxy, backend and bookkeeping straight to Redis. It reports readiness and its
// RSS on stdout (JSON lines), logs to stderr (kept in a file by the runner), and exits when the runner
// goes away (stdin closes) or sends SIGTERM. The runner SIGKILLs it at random: that is the test.

const config = JSON.parse(process.argv[2] ?? '{}') as RunConfig;
const keys = soakKeys(config.prefix);
const say = (m: WorkerMessage) => process.stdout.write(`${JSON.stringify(m)}\n`);

let errors = 0;
const line = (level: string, a: unknown, b?: string) => {
  const obj = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : {};
  const msg = typeof a === 'string' ? a : (b ?? '');
  const err = obj.err instanceof Error ? obj.err.message : obj.err;
  process.stderr.write(
    `${new Date().toISOString()} ${level} ${msg} ${JSON.stringify({ ...obj, ...(err === undefined ? {} : { err }) })}\n`,
  );
};
const logger: Logger = {
  debug() {},
  info() {},
  warn: (a: unknown, b?: string) => line('WARN', a, b),
  error: (a: unknown, b?: string) => {
    errors++;
    line('ERROR', a, b);
  },
} as Logger;

// Bookkeeping goes straight to Redis (not through the proxy): a cut must not lose a count.
const redis = new Redis(config.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: null });
redis.on('error', () => {});

const pause = () => sleep(Math.floor(Math.random() * 21));

const task = defineTask(TASK, async function (n: number, flaky: boolean) {
  await pause();
  if (flaky && (await redis.hincrby(keys.attempts, this.signature.uuid, 1)) === 1) {
    throw new Error('planned failure on the first attempt');
  }
  await redis.hincrby(keys.exec, this.signature.uuid, 1);
  return n * 2;
});

const link = defineTask(CHAIN_LINK, async function (n: number, ...previous: number[]) {
  await pause();
  await redis.hincrby(keys.exec, this.signature.uuid, 1);
  return n + previous.reduce((a, b) => a + b, 0);
});

const callback = defineTask(CHORD_CALLBACK, async function (...results: number[]) {
  await redis
    .multi()
    .hincrby(keys.exec, this.signature.uuid, 1)
    .hincrby(keys.chord, this.signature.uuid, 1)
    .exec();
  return results.reduce((a, b) => a + b, 0);
});

const server = new Server({
  broker: makeBroker(config, true, logger),
  backend: makeBackend(config, logger),
  logger,
  // A chord callback is published once per trigger: counting publications shows a double trigger
  // apart from a redelivered callback (which runs twice but was sent once).
  onBeforePublish: async (sig) => {
    if (sig.name === CHORD_CALLBACK) await redis.hincrby(keys.chordSent, sig.uuid, 1);
  },
});
server.register(task, link, callback);
const worker = server.worker({
  concurrency: config.concurrency,
  handleSignals: false,
  skipCompletedRedeliveries: config.suppression,
  shutdownTimeoutMs: 3000,
  logger,
});
const count = (field: string) => {
  redis.hincrby(keys.stats, field, 1).catch(() => {});
};
worker.on('duplicate', () => count('suppressed'));
worker.on('retried', () => count('retried'));
worker.on('failed', () => count('failed'));
worker.on('error', () => count('errors'));

const rss = setInterval(() => {
  const m = process.memoryUsage();
  say({ t: 'rss', rss: m.rss, heap: m.heapUsed, active: worker.activeCount, errors });
}, 1000);

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(rss);
  const force = setTimeout(() => process.exit(code), 8000);
  force.unref();
  try {
    await server.close();
    await redis.quit();
  } catch {
    // exiting anyway
  }
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
// The runner holds our stdin: when it dies (even by SIGKILL) the pipe closes and we go too.
process.stdin.on('end', () => void shutdown(0));
process.stdin.resume();

try {
  await worker.start();
} catch (err) {
  line('ERROR', { err }, 'worker failed to start');
  await shutdown(1);
}
say({ t: 'ready', pid: process.pid });
