import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  arg,
  defineTask,
  type Logger,
  MemoryBackend,
  Server,
  silentLogger,
  TaskStatus,
} from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { Closer, eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';
import * as tasks from './fixtures/pool-tasks.mjs';

// The thread pool on the Redis broker: a task that computes synchronously for longer than the lease
// runs once, because the lease is renewed by the worker's own thread while a pool thread computes.

const MODULE = new URL('./fixtures/pool-tasks.mjs', import.meta.url);
const WORKER = fileURLToPath(new URL('./fixtures/pool-worker.mjs', import.meta.url));
const LEASE_MS = 1500;

const raw = rawClient(REDIS_URL);
const closer = new Closer();
const children: ChildProcess[] = [];
let prefix = '';
afterEach(async () => {
  await closer.closeAll();
  for (const child of children.splice(0)) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await deleteKeys(raw, prefix);
});
afterAll(() => raw.disconnect());

function startWorkerProcess(): Promise<void> {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, REDIS_URL, PREFIX: prefix, LEASE_MS: String(LEASE_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready') resolve();
    });
  });
}

function server(logger: Logger = silentLogger): Server {
  const s = new Server({
    broker: new RedisBroker({ url: REDIS_URL, prefix, leaseMs: LEASE_MS, logger: silentLogger }),
    backend: new MemoryBackend(),
    logger,
  });
  s.register(...Object.values(tasks));
  return closer.add(s);
}

it('runs a CPU-bound task longer than the lease exactly once with two worker processes', async () => {
  prefix = prefixOf(uniqueNamespace());
  const runsKey = `${prefix}runs`;
  const doneKey = `${prefix}done`;
  await Promise.all([startWorkerProcess(), startWorkerProcess()]);
  const producer = server();
  const sent = await producer.send(tasks.cpuSpin.signature(4000, runsKey, doneKey));
  await eventually(async () => expect(await raw.lrange(doneKey, 0, -1)).toEqual([sent.taskUUID]), {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  // A lost lease would have let the other process start it while this one computed (lease 1.5 s,
  // 4 s of computing): its start would be recorded before the first run finished.
  expect(await raw.lrange(runsKey, 0, -1)).toEqual([sent.taskUUID]);
  expect(await producer.broker.pendingTasks()).toEqual([]);
}, 60_000);

it('warns, without a thread pool, that a task blocked the event loop for over a third of the lease', async () => {
  prefix = prefixOf(uniqueNamespace());
  const warnings: string[] = [];
  const quiet = () => {};
  const logger: Logger = {
    debug: quiet,
    info: quiet,
    error: quiet,
    warn: (_obj: object | string, msg?: string) => {
      warnings.push(msg ?? '');
    },
  };
  const s = server(logger);
  const blocking = defineTask('in_process_spin', (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      // blocks the worker's event loop
    }
    return ms;
  });
  s.register(blocking);
  await s.worker({ handleSignals: false }).start();
  // 800 ms: longer than a third of the lease (500 ms), short enough that the lease survives.
  await (await s.send(blocking.signature(800))).get({ timeoutMs: 10_000 });
  await eventually(() =>
    expect(warnings).toContainEqual(
      expect.stringMatching(/blocked .* while task "in_process_spin" ran.*thread pool/),
    ),
  );
});

it('fails a task over its time limit with ERR_TASK_TIMEOUT after its retries, and the pool goes on', async () => {
  prefix = prefixOf(uniqueNamespace());
  const s = server();
  const worker = s.worker({ handleSignals: false, timeoutMs: 300, pool: { module: MODULE, threads: 1 } });
  const retried: string[] = [];
  worker.on('retried', ({ error }) => retried.push(error));
  await worker.start();
  const result = await s.send(tasks.forever.signatureWith({ retryCount: 1, retryTimeout: 0 }));
  await expect(result.get({ timeoutMs: 15_000 })).rejects.toThrow(
    'Task "pool_forever" timed out after 300 ms',
  );
  expect(retried).toEqual(['Task "pool_forever" timed out after 300 ms']);
  expect(await (await s.send(tasks.echo.signature(1))).get({ timeoutMs: 10_000 })).toBe(1);
});

it('fails a task over the memory limit with ERR_TASK_OUT_OF_MEMORY, and the pool goes on', async () => {
  prefix = prefixOf(uniqueNamespace());
  const s = server();
  await s
    .worker({
      handleSignals: false,
      pool: { module: MODULE, threads: 1, resourceLimits: { maxOldGenerationSizeMb: 24 } },
    })
    .start();
  const result = await s.send(tasks.hog.signature());
  await expect(result.get({ timeoutMs: 30_000 })).rejects.toThrow(/went over the thread pool's memory limit/);
  expect(await (await s.send(tasks.echo.signature(2))).get({ timeoutMs: 10_000 })).toBe(2);
}, 40_000);

it('loses no task when its thread exits: the retry runs on a new thread', async () => {
  prefix = prefixOf(uniqueNamespace());
  const s = server();
  const worker = s.worker({ handleSignals: false, pool: { module: MODULE, threads: 1 } });
  const retried: string[] = [];
  worker.on('retried', ({ error }) => retried.push(error));
  await worker.start();
  const result = await s.send(tasks.exitOnce.signatureWith({ retryCount: 1, retryTimeout: 0 }));
  expect(await result.get({ timeoutMs: 15_000 })).toBe('survived');
  expect(retried).toEqual([expect.stringContaining('ended its worker thread (exit code 7)')]);
});

it('passes arguments and results through the codec across the thread boundary', async () => {
  prefix = prefixOf(uniqueNamespace());
  const s = server();
  await s.worker({ handleSignals: false, pool: { module: MODULE, threads: 1 } }).start();
  const big = 2n ** 62n + 3n;
  const bytes = new Uint8Array([1, 2, 3, 250]);
  const result = await s.send(tasks.echo.signature(big, bytes, arg('[]int64', [1, 2]), 'x', 1.5));
  expect(await result.get({ timeoutMs: 10_000 })).toEqual([big, bytes, [1, 2], 'x', 1.5]);
  const state = await s.backend?.getState(result.taskUUID);
  expect(state?.state).toBe(TaskStatus.SUCCESS);
  expect(state?.results?.map((r) => r.type)).toEqual(['int64', '[]byte', '[]int64', 'string', 'float64']);
});
