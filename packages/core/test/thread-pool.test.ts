import { threadId } from 'node:worker_threads';
import {
  arg,
  isMachineryError,
  type Logger,
  MemoryBackend,
  MemoryBroker,
  Server,
  silentLogger,
  TaskStatus,
  type WorkerOptions,
} from '@machinery/core';
// The built package, as users run it: pool threads start `dist/thread-pool/thread-entry.js`, which a
// test running core from its TypeScript sources would not find.
import { afterEach, describe, expect, it } from 'vitest';
import * as tasks from './fixtures/pool-tasks.mjs';

const MODULE = new URL('./fixtures/pool-tasks.mjs', import.meta.url);

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface Logged {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps warnings and errors, for the tests that read what was logged. */
function recordingLogger(into: Logged[]): Logger {
  const at = (level: string) => (obj: object | string, msg?: string) => {
    if (typeof obj === 'string') into.push({ level, obj: {}, msg: obj });
    else into.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return { debug: () => {}, info: () => {}, warn: at('warn'), error: at('error') } as Logger;
}

function make(logger: Logger = silentLogger) {
  const backend = new MemoryBackend();
  const server = new Server({ broker: new MemoryBroker(), backend, logger });
  server.register(...Object.values(tasks));
  servers.push(server);
  return { server, backend };
}

async function started(server: Server, options: WorkerOptions) {
  const worker = server.worker({ handleSignals: false, ...options });
  await worker.start();
  return worker;
}

async function until(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('thread pool', () => {
  it('runs tasks in worker threads, not in the worker’s thread', async () => {
    const { server } = make();
    await started(server, { pool: { module: MODULE, threads: 2 } });
    const ids = await Promise.all(
      [1, 2, 3, 4].map(async () =>
        (await server.send(tasks.whereAmI.signature())).get({ timeoutMs: 10_000 }),
      ),
    );
    for (const id of ids) expect(id).not.toBe(threadId);
  });

  it('defaults concurrency to twice the threads', () => {
    const { server } = make();
    expect(server.worker({ handleSignals: false, pool: { module: MODULE, threads: 3 } }).concurrency).toBe(6);
  });

  it('passes arguments and results through the codec: int64 beyond 2^53, bytes, slices, explicit types', async () => {
    const { server, backend } = make();
    await started(server, { pool: { module: MODULE, threads: 1 } });
    const big = 2n ** 60n + 1n;
    const bytes = new Uint8Array([0, 1, 254, 255]);
    const result = await server.send(
      tasks.echo.signature(big, bytes, ['a', 'b'], arg('uint32', 7), arg('float64', 2), { k: [1, null] }),
    );
    const value = (await result.get({ timeoutMs: 10_000 })) as unknown[];
    expect(value).toEqual([big, bytes, ['a', 'b'], 7, 2, { k: [1, null] }]);
    const state = await backend.getState(result.taskUUID);
    // Converted values, typed as the task returned them (in-process workers store the same).
    expect(state?.results?.map((r) => r.type)).toEqual([
      'int64',
      '[]byte',
      '[]string',
      'int64',
      'int64',
      'json',
    ]);
  });

  it('stores results with the Go types the task gave them', async () => {
    const { server, backend } = make();
    await started(server, { pool: { module: MODULE, threads: 1 } });
    const result = await server.send(tasks.typed.signature());
    expect(await result.get({ timeoutMs: 10_000 })).toEqual([7, 2]);
    const state = await backend.getState(result.taskUUID);
    expect(state?.results).toEqual([
      { type: 'uint32', value: 7 },
      { type: 'float64', value: 2 },
    ]);
  });

  it('stops a task at its time limit: the thread is terminated and replaced, the task fails with ERR_TASK_TIMEOUT after its retries', async () => {
    const { server, backend } = make();
    const worker = await started(server, { pool: { module: MODULE, threads: 1 }, timeoutMs: 200 });
    const retried: string[] = [];
    worker.on('retried', ({ error }) => retried.push(error));
    const sig = tasks.forever.signatureWith({ retryCount: 1, retryTimeout: 0 });
    const result = await server.send(sig);
    await expect(result.get({ timeoutMs: 10_000 })).rejects.toThrow('timed out after 200 ms');
    expect(retried).toEqual(['Task "pool_forever" timed out after 200 ms']);
    expect((await backend.getState(sig.uuid))?.state).toBe(TaskStatus.FAILURE);
    // The pool goes on with a fresh thread.
    expect(await (await server.send(tasks.spin.signature(1))).get({ timeoutMs: 10_000 })).toEqual(
      expect.any(Number),
    );
  });

  it('runs the task that waited behind a timed-out one on the same thread elsewhere', async () => {
    const { server } = make();
    await started(server, { pool: { module: MODULE, threads: 1 }, timeoutMs: 300 });
    // One thread, two tasks sent to it: the second waits in the thread behind the first.
    const stuck = await server.send(tasks.forever.signature());
    const behind = await server.send(tasks.spin.signature(1));
    await expect(stuck.get({ timeoutMs: 10_000 })).rejects.toThrow('timed out after 300 ms');
    expect(await behind.get({ timeoutMs: 10_000 })).toEqual(expect.any(Number));
  });

  it('skips a task given up while it waited in its thread, and the task running before it goes on', async () => {
    const server = new Server({
      broker: new MemoryBroker(),
      backend: new MemoryBackend(),
      logger: silentLogger,
      middleware: {
        task: [
          async (ctx, next) => {
            // A middleware's decision while the task waits behind another one in the thread.
            if (ctx.signature.name === 'pool_forever') setTimeout(() => ctx.fail('given up'), 200);
            await next();
          },
        ],
      },
    });
    server.register(...Object.values(tasks));
    servers.push(server);
    await started(server, { pool: { module: MODULE, threads: 1 } });
    const first = await server.send(tasks.spin.signature(800));
    const skipped = await server.send(tasks.forever.signature());
    await expect(skipped.get({ timeoutMs: 10_000 })).rejects.toThrow('given up');
    const thread = await first.get({ timeoutMs: 10_000 });
    // Had the skipped task started, it would hold the only thread forever; the same thread answers.
    expect(await (await server.send(tasks.whereAmI.signature())).get({ timeoutMs: 10_000 })).toBe(thread);
  });

  it('starts its threads again when a stopped worker starts again', async () => {
    const { server } = make();
    const worker = await started(server, { pool: { module: MODULE, threads: 1 } });
    await worker.stop();
    await worker.start();
    expect(await (await server.send(tasks.whereAmI.signature())).get({ timeoutMs: 10_000 })).toEqual(
      expect.any(Number),
    );
  });

  it('fails a task over the memory limit with ERR_TASK_OUT_OF_MEMORY, and the pool goes on', async () => {
    const { server } = make();
    const worker = await started(server, {
      pool: { module: MODULE, threads: 1, resourceLimits: { maxOldGenerationSizeMb: 24 } },
    });
    const errors: unknown[] = [];
    worker.on('failed', ({ error }) => errors.push(error));
    const result = await server.send(tasks.hog.signature());
    await expect(result.get({ timeoutMs: 30_000 })).rejects.toThrow(
      /went over the thread pool's memory limit/,
    );
    expect(String(errors[0])).toContain('maxOldGenerationSizeMb');
    expect(await (await server.send(tasks.spin.signature(1))).get({ timeoutMs: 10_000 })).toEqual(
      expect.any(Number),
    );
  }, 40_000);

  it('loses no task when its thread exits: the attempt fails with ERR_TASK_CRASHED and the retry runs on a new thread', async () => {
    const { server } = make();
    const worker = await started(server, { pool: { module: MODULE, threads: 1 } });
    const retried: string[] = [];
    worker.on('retried', ({ error }) => retried.push(error));
    const result = await server.send(tasks.exitOnce.signatureWith({ retryCount: 1, retryTimeout: 0 }));
    expect(await result.get({ timeoutMs: 10_000 })).toBe('survived');
    expect(retried).toEqual([expect.stringContaining('ended its worker thread (exit code 3)')]);
  });

  it('fails a task whose thread dies of an uncaught error with ERR_TASK_CRASHED', async () => {
    const { server } = make();
    await started(server, { pool: { module: MODULE, threads: 1 } });
    const result = await server.send(tasks.uncaught.signature());
    await expect(result.get({ timeoutMs: 10_000 })).rejects.toThrow(
      'ended its worker thread (uncaught error: thrown outside the task)',
    );
  });

  it('stores what a task throws, and RetryLater keeps its meaning across the thread boundary', async () => {
    const { server } = make();
    const worker = await started(server, { pool: { module: MODULE, threads: 1 } });
    const retried: { error: string; delayMs: number }[] = [];
    worker.on('retried', ({ error, delayMs }) => retried.push({ error, delayMs }));
    await expect((await server.send(tasks.throws.signature())).get({ timeoutMs: 10_000 })).rejects.toThrow(
      'boom from a thread',
    );
    const later = tasks.later.signatureWith({ headers: { again: 'yes' } });
    await server.send(later);
    await until(() => retried.length === 1);
    expect(retried[0]).toEqual({ error: 'not yet', delayMs: 10 });
  });

  it('relays progress, logs and the task context from the thread', async () => {
    const logged: Logged[] = [];
    const { server } = make(recordingLogger(logged));
    const worker = await started(server, { pool: { module: MODULE, threads: 1 } });
    const progress: unknown[] = [];
    worker.on('progress', ({ data }) => progress.push(data));
    const result = await server.send(tasks.report.signature(2));
    expect(await result.get({ timeoutMs: 10_000 })).toBe(`${result.taskUUID} 1 string`);
    expect(progress).toEqual([{ step: 1 }, { step: 2 }]);
    expect(logged).toContainEqual({
      level: 'warn',
      obj: expect.objectContaining({ n: 2 }),
      msg: 'reported from a thread',
    });
  });

  it('hands a running task back when the worker stops, terminating its thread', async () => {
    const { server } = make();
    const worker = await started(server, { pool: { module: MODULE, threads: 1 } });
    const handedBack: string[] = [];
    worker.on('handedBack', ({ signature }) => handedBack.push(signature.uuid));
    let running = false;
    worker.on('started', () => {
      running = true;
    });
    const sig = tasks.forever.signature();
    await server.send(sig);
    await until(() => running);
    await worker.stop({ timeoutMs: 100 });
    expect(handedBack).toEqual([sig.uuid]);
  });

  it('refuses to start when the task module cannot be loaded', async () => {
    const { server } = make();
    const worker = server.worker({
      handleSignals: false,
      pool: { module: new URL('./fixtures/pool-broken.mjs', import.meta.url), threads: 1 },
    });
    const err = await worker.start().catch((e: unknown) => e);
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(String(err)).toContain('this module is broken on purpose');
  });

  it('fails a task the module does not export with ERR_TASK_NOT_REGISTERED', async () => {
    const { server } = make();
    server.register(tasks.whereAmI);
    const { defineTask } = await import('@machinery/core');
    const local = defineTask('pool_local_only', () => 1);
    server.register(local);
    await started(server, { pool: { module: MODULE, threads: 1 } });
    await expect((await server.send(local.signature())).get({ timeoutMs: 10_000 })).rejects.toThrow(
      'not exported by the thread pool',
    );
  });
});

describe('blocked event loop (without a thread pool)', () => {
  it('warns once per task, naming it and pointing to the thread pool', async () => {
    const logged: Logged[] = [];
    const { server } = make(recordingLogger(logged));
    await started(server, { blockedLoopWarningMs: 100 });
    const spin = (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        // blocks the event loop
      }
    };
    const { defineTask } = await import('@machinery/core');
    const blocker = defineTask('blocks_twice', async () => {
      spin(400);
      await new Promise((r) => setTimeout(r, 50));
      spin(400);
      await new Promise((r) => setTimeout(r, 50));
    });
    server.register(blocker);
    const result = await server.send(blocker.signature());
    await result.get({ timeoutMs: 10_000 });
    const warnings = logged.filter((l) => l.level === 'warn' && l.obj.taskName === 'blocks_twice');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/event loop was blocked for \d+ ms while task "blocks_twice" ran/);
    expect(warnings[0]?.msg).toContain('thread pool');
  });

  it('is off for a broker without a lease renewed by this process', () => {
    const { server } = make();
    expect(new MemoryBroker().capabilities.leaseMs).toBeUndefined();
    expect(server.worker({ handleSignals: false }).concurrency).toBe(10);
  });
});
