#!/usr/bin/env node
// CPU per task, Redis commands per task and worker RSS of one drain or one send run — numbers that a
// loaded machine disturbs far less than rates. Point it at a Redis nobody else uses (commandstats and
// Redis' CPU are server-wide), e.g. `redis-server --port 6391 --save ''`.
// Run `pnpm build` first: it imports the packages' and the bench's dist.
//
//   node bench/scripts/cpu-per-task.mjs drain  --c 10 --stored [--n 5000] [--url redis://127.0.0.1:6391]
//   node bench/scripts/cpu-per-task.mjs send   [--n 5000]   (send + PENDING, 100 in flight)
//   node bench/scripts/cpu-per-task.mjs bulk   [--n 20000]  (sendMany + PENDING, batches of 1000)
//
// drain: a producer enqueues N no-op tasks, then a worker child process drains them; the child reports
// its CPU (process.cpuUsage) from the first completion to the last, and its peak RSS.
// CPU_PROFILE_DIR=<dir> writes a V8 CPU profile of the worker (CPU_PROFILE_INTERVAL µs, default 1000;
// it samples wall time, so a slow syscall shows as the JS function that made it); LIVE_HEAP=1 reports
// its heap after a full collection; HEAP_SNAPSHOT=<file> takes a heap snapshot halfway; ALLOC_PROFILE
// and WORKER_NODE_FLAGS: see below. `workerPageFaultsPerTask` counts fresh heap pages touched.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RedisBackend } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, Server, signature, silentLogger } from '@machinery/core';
import { Redis } from 'ioredis';
import { deleteKeys } from '../dist/redis-info.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string' },
    c: { type: 'string', default: '10' },
    stored: { type: 'boolean', default: false },
    url: { type: 'string', default: 'redis://127.0.0.1:6391' },
    queue: { type: 'string' },
    child: { type: 'boolean', default: false },
    prefetch: { type: 'string' },
  },
});
const mode = positionals[0] ?? 'drain';
const url = values.url;
const queue = values.queue ?? `cpt${process.pid}`;

function makeServer(withBackend) {
  const broker = new RedisBroker({ url, prefix: `${queue}:`, defaultQueue: queue, logger: silentLogger });
  const backend = withBackend
    ? new RedisBackend({ url, prefix: `${queue}:`, logger: silentLogger })
    : undefined;
  return new Server({ broker, ...(backend ? { backend } : {}), logger: silentLogger });
}

async function redisStats(redis) {
  const info = (await redis.info('commandstats')) + (await redis.info('cpu'));
  let commands = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) commands += Number(m[1]);
  const scripts = Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0);
  const cpu =
    Number(/^used_cpu_user:([\d.]+)/m.exec(info)[1]) + Number(/^used_cpu_sys:([\d.]+)/m.exec(info)[1]);
  return { commands, scripts, cpuUs: cpu * 1e6 };
}

function cpuUs(since) {
  const u = process.cpuUsage(since);
  return u.user + u.system;
}

async function child() {
  const n = Number(values.n);
  const server = makeServer(values.stored);
  server.register(defineTask('noop', () => {}));
  const worker = server.worker({
    concurrency: Number(values.c),
    ...(values.prefetch === undefined ? {} : { prefetch: Number(values.prefetch) }),
    handleSignals: false,
    logger: silentLogger,
  });
  let done = 0;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  // From the first completion to the last, as the bench's clock: connecting and loading code stay out.
  let started;
  let faults0 = 0;
  let t0 = 0;
  const finished = new Promise((resolve) => {
    worker.on('succeeded', () => {
      if (++done === 1) {
        started = process.cpuUsage();
        faults0 = process.resourceUsage().minorPageFault;
        t0 = performance.now();
      }
      if (process.env.HEAP_SNAPSHOT && done === Math.floor(n / 2)) {
        void import('node:v8').then((v8) => v8.writeHeapSnapshot(process.env.HEAP_SNAPSHOT));
      }
      if (done === n) resolve();
    });
  });
  // ALLOC_PROFILE=<file>: allocations sampled from the start, those the collector freed included, as a
  // .heapprofile — where the young generation's bytes per task come from. With ALLOC_MINOR=0 only what
  // survived the young collections: what gets promoted.
  const alloc = process.env.ALLOC_PROFILE ? await allocationSampler() : undefined;
  await worker.start();
  await finished;
  if (alloc) await alloc.stop(process.env.ALLOC_PROFILE);
  const cpu = cpuUs(started);
  const { system } = process.cpuUsage(started);
  const faults = process.resourceUsage().minorPageFault - faults0;
  const ms = performance.now() - t0;
  clearInterval(sampler);
  // LIVE_HEAP=1 (with --expose-gc): the heap after a full collection — what the worker retains.
  if (process.env.LIVE_HEAP && globalThis.gc) globalThis.gc();
  const mem = process.memoryUsage();
  peakRss = Math.max(peakRss, mem.rss);
  await server.close();
  process.send({ cpu, system, faults, ms, peakRss, mem });
}

async function allocationSampler() {
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: process.env.ALLOC_MINOR !== '0',
  });
  return {
    async stop(file) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

async function drain() {
  const n = Number(values.n ?? 5000);
  const redis = new Redis(url);
  const producer = makeServer(values.stored);
  const before = await redisStats(redis);
  for (let i = 0; i < n; i += 1000) {
    await producer.sendMany(Array.from({ length: Math.min(1000, n - i) }, () => signature('noop')));
  }
  await producer.close();
  const mid = await redisStats(redis);
  const args = ['--child', '--n', String(n), '--c', values.c, '--url', url, '--queue', queue];
  if (values.stored) args.push('--stored');
  if (values.prefetch !== undefined) args.push('--prefetch', values.prefetch);
  // CPU_PROFILE_DIR=<dir>: a V8 CPU profile of the worker process.
  const profile = process.env.CPU_PROFILE_DIR;
  // CALLGRIND_OUT=<file>: run the worker under valgrind's callgrind, which counts instructions — the
  // same count whatever else the machine does (compare two n to remove start-up).
  const callgrind = process.env.CALLGRIND_OUT;
  const proc = fork(fileURLToPath(import.meta.url), [mode, ...args], {
    ...(callgrind ? { execPath: 'valgrind' } : {}),
    execArgv: [
      ...(callgrind
        ? ['--tool=callgrind', `--callgrind-out-file=${callgrind}`, '--dump-instr=no', process.execPath]
        : profile
          ? [
              '--cpu-prof',
              '--cpu-prof-dir',
              profile,
              '--cpu-prof-interval',
              process.env.CPU_PROFILE_INTERVAL ?? '1000',
            ]
          : process.env.HEAP_PROFILE_DIR
            ? ['--heap-prof', '--heap-prof-dir', process.env.HEAP_PROFILE_DIR, '--heap-prof-interval', '4096']
            : process.env.LIVE_HEAP
              ? ['--expose-gc']
              : []),
      // WORKER_NODE_FLAGS='--trace-gc-nvp …': more flags for the worker's node.
      ...(process.env.WORKER_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ],
  });
  const result = await new Promise((resolve, reject) => {
    proc.once('message', resolve);
    proc.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  await new Promise((resolve) => proc.once('exit', resolve));
  const after = await redisStats(redis);
  await deleteKeys(redis, `${queue}:*`);
  const line = {
    mode: `drain c=${values.c} ${values.stored ? 'stored' : 'none'}`,
    n,
    workerUsPerTask: +(result.cpu / (n - 1)).toFixed(1),
    // The kernel's share: socket reads and writes (on loopback a write also runs Redis' receive path).
    workerSystemUsPerTask: +(result.system / (n - 1)).toFixed(1),
    // Minor page faults: V8 touching freshly committed heap pages (costly in a virtual machine).
    workerPageFaultsPerTask: +(result.faults / (n - 1)).toFixed(3),
    redisUsPerTask: +((after.cpuUs - mid.cpuUs) / n).toFixed(1),
    cmdsPerTask: +((after.commands - before.commands) / n).toFixed(2),
    drainCmdsPerTask: +((after.commands - mid.commands) / n).toFixed(2),
    tasksPerScript: +(n / (after.scripts - mid.scripts)).toFixed(1),
    tasksPerS: Math.round((n - 1) / (result.ms / 1000)),
    peakRssMB: +(result.peakRss / 2 ** 20).toFixed(1),
    heapUsedMB: +(result.mem.heapUsed / 2 ** 20).toFixed(1),
    heapTotalMB: +(result.mem.heapTotal / 2 ** 20).toFixed(1),
    externalMB: +(result.mem.external / 2 ** 20).toFixed(1),
    arrayBuffersMB: +(result.mem.arrayBuffers / 2 ** 20).toFixed(1),
  };
  console.log(JSON.stringify(line));
  redis.disconnect();
}

async function send(bulk) {
  const n = Number(values.n ?? (bulk ? 20000 : 5000));
  const redis = new Redis(url);
  const producer = makeServer(true);
  await producer.sendMany([signature('noop')]);
  const before = await redisStats(redis);
  const started = process.cpuUsage();
  const t0 = performance.now();
  if (bulk) {
    for (let i = 0; i < n; i += 1000) {
      await producer.sendMany(Array.from({ length: Math.min(1000, n - i) }, () => signature('noop')));
    }
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (next++ < n) await producer.send(signature('noop'));
      }),
    );
  }
  const cpu = cpuUs(started);
  const ms = performance.now() - t0;
  const after = await redisStats(redis);
  await producer.close();
  await deleteKeys(redis, `${queue}:*`);
  console.log(
    JSON.stringify({
      mode: bulk ? 'sendMany+PENDING' : 'send+PENDING x100',
      n,
      producerUsPerSend: +(cpu / n).toFixed(1),
      redisUsPerSend: +((after.cpuUs - before.cpuUs) / n).toFixed(1),
      cmdsPerSend: +((after.commands - before.commands) / n).toFixed(2),
      sendsPerS: Math.round(n / (ms / 1000)),
    }),
  );
  redis.disconnect();
}

if (values.child) await child();
else if (mode === 'drain') await drain();
else if (mode === 'send') await send(false);
else if (mode === 'bulk') await send(true);
else throw new Error(`unknown mode ${mode}: drain, send or bulk`);
