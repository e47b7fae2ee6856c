import { Server, type Signature } from '@machinery/core';
import { Redis } from 'ioredis';
import {
  CHORD_CALLBACK,
  LIMITED,
  makeBackend,
  makeBroker,
  makeControl,
  makeFlow,
  type RunConfig,
  soakKeys,
  type WorkerMessage,
} from './config.js';
import { recordLimited } from './limited.js';
import { lineLogger, withOverrides } from './log-lines.js';
import { callback, closeBookkeeping, limited, link, task } from './tasks.js';

// A soak worker process: `node dist/worker.js '<RunConfig JSON>'`. One Server and one Worker, broker
// through the runner's proxy, backend and bookkeeping straight to Redis. It reports readiness and its
// RSS on stdout (JSON lines), logs to stderr (kept in a file by the runner), and exits when the runner
// goes away (stdin closes) or sends SIGTERM. The runner SIGKILLs it at random: that is the test.

const config = JSON.parse(process.argv[2] ?? '{}') as RunConfig;
// For the tasks, here and in pool threads (which copy the environment as they start).
process.env.SOAK_WORKER_CONFIG = process.argv[2] ?? '{}';
const keys = soakKeys(config.prefix);
const say = (m: WorkerMessage) => process.stdout.write(`${JSON.stringify(m)}\n`);

let errors = 0;
const logger = lineLogger(
  (line) => process.stderr.write(line),
  () => {
    errors++;
  },
);

// Bookkeeping goes straight to Redis (not through the proxy): a cut must not lose a count.
const redis = new Redis(config.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: null });
redis.on('error', () => {});

// Chord callbacks are counted once the broker has accepted them (not before: a worker SIGKILLed
// between a count and its publish would count a message that never existed). Two counts for one chord
// mean its callback was published twice (a re-send by the winner's redelivery); a redelivered
// callback runs twice but is counted once.
const broker = makeBroker(config, true, logger);
const recordCallbacks = async (sigs: readonly Signature[]) => {
  const callbacks = sigs.filter((s) => s.name === CHORD_CALLBACK);
  if (callbacks.length === 0) return;
  const m = redis.multi();
  for (const s of callbacks) {
    m.hincrby(keys.chordSent, s.uuid, 1).rpush(keys.sentLog, `${s.uuid} ${process.pid} - ${Date.now()}`);
  }
  await m.exec();
};
const counted = withOverrides(broker, {
  async publish(sig: Signature) {
    await broker.publish(sig);
    await recordCallbacks([sig]);
  },
  async publishMany(sigs: readonly Signature[]) {
    await broker.publishMany(sigs);
    await recordCallbacks(sigs);
  },
});

// Chord wins are counted too: a chord is triggered once when exactly one member ever wins it (the
// winner's redelivery may win again and re-send the callback: a duplicate, not a second trigger).
const backend = makeBackend(config, logger);
const countedBackend = withOverrides(backend, {
  async triggerChord(groupUUID: string, by?: string) {
    const won = await backend.triggerChord(groupUUID, by);
    if (won) await redis.hincrby(keys.chordWins, `${groupUUID} ${by ?? '?'}`, 1);
    return won;
  },
});

const server = new Server({
  broker: counted,
  backend: countedBackend,
  control: makeControl(config, logger),
  // Concurrency slots of the limited tasks; their executions are recorded inside the flow middleware.
  flow: makeFlow(config),
  middleware: { task: [recordLimited(redis, keys.limitLog)] },
  logger,
});
server.register(task, link, callback, limited);
const worker = server.worker({
  concurrency: config.concurrency,
  handleSignals: false,
  skipCompletedRedeliveries: config.suppression,
  shutdownTimeoutMs: 3000,
  logger,
  // A worker of the mix runs its tasks in a thread pool (the same tasks, from their module).
  ...(config.threads === undefined
    ? {}
    : { pool: { module: new URL('./tasks.js', import.meta.url), threads: config.threads } }),
});
const count = (field: string) => {
  redis.hincrby(keys.stats, field, 1).catch(() => {});
};
worker.on('duplicate', ({ signature, state }) => {
  count('suppressed');
  redis.rpush(keys.dupLog, `${signature.uuid} ${process.pid} ${state} ${Date.now()}`).catch(() => {});
});
worker.on('retried', () => count('retried'));
// Hand-backs of limited tasks: mostly a full key (also a pause or a stopping worker).
worker.on('handedBack', ({ signature }) => {
  if (signature.name === LIMITED) count('limitedHandedBack');
});
// A revoked task fails on purpose: counted apart from the failures nobody asked for.
worker.on('failed', ({ error }) => count(error.includes(' was revoked: ') ? 'revoked' : 'failed'));
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
    await closeBookkeeping();
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
  logger.error({ err }, 'worker failed to start');
  await shutdown(1);
}
if (config.threads !== undefined) {
  // In the run's log, so that a reader knows which processes ran their tasks in threads.
  process.stderr.write(
    `${new Date().toISOString()} INFO tasks run in a thread pool of ${config.threads} threads\n`,
  );
}
say({ t: 'ready', pid: process.pid });
