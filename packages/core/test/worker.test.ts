import { afterEach, describe, expect, it } from 'vitest';
import {
  type Backend,
  chord,
  type Delivery,
  defineTask,
  encodeSignature,
  group,
  isMachineryError,
  MemoryBackend,
  MemoryBroker,
  MemoryBrokerStore,
  Server,
  type Signature,
  signature,
  silentLogger,
  TaskStatus,
} from '../src/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function make(options: { backend?: Backend; store?: MemoryBrokerStore } = {}) {
  const broker = new MemoryBroker(options.store ? { store: options.store } : {});
  const server = new Server({
    broker,
    backend: options.backend ?? new MemoryBackend(),
    logger: silentLogger,
  });
  servers.push(server);
  return server;
}

async function until(check: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Queues `sigs` as a crashed worker left them: delivered once (taken by a consumer that closed
 * without acknowledging), so that the next consumer gets them as redeliveries.
 */
async function leftByACrash(store: MemoryBrokerStore, sigs: readonly Signature[]): Promise<void> {
  for (const sig of sigs) {
    store.injectRaw(
      'machinery_tasks',
      encodeSignature({ ...sig, headers: {}, routingKey: 'machinery_tasks' }),
    );
  }
  const crashed = new MemoryBroker({ store, leaseMs: 100 });
  const got: Delivery[] = [];
  await crashed.consume('machinery_tasks', (d) => got.push(d), { concurrency: sigs.length, prefetch: 0 });
  await until(() => got.length === sigs.length);
  await crashed.close();
}

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

describe('Worker', () => {
  it('runs at most `concurrency` tasks at once', async () => {
    const server = make();
    let running = 0;
    let peak = 0;
    const g = gate();
    const task = defineTask('busy', async () => {
      running++;
      peak = Math.max(peak, running);
      await g.promise;
      running--;
    });
    server.register(task);
    await server.worker({ concurrency: 3, prefetch: 2, handleSignals: false }).start();
    const results = await Promise.all(Array.from({ length: 10 }, () => server.send(task.signature())));
    await until(() => running === 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(running).toBe(3);
    g.open();
    await Promise.all(results.map((r) => r.get({ timeoutMs: 5000 })));
    expect(peak).toBe(3);
  });

  it('emits typed events in order, with task middleware around the run', async () => {
    const seen: string[] = [];
    const broker = new MemoryBroker();
    const server = new Server({
      broker,
      backend: new MemoryBackend(),
      logger: silentLogger,
      middleware: {
        task: [
          async (_ctx, next) => {
            seen.push('middleware:before');
            await next();
            seen.push('middleware:after');
          },
        ],
      },
    });
    servers.push(server);
    const ok = defineTask('ok', () => {
      seen.push('run');
      return 1;
    });
    server.register(ok);
    const worker = server.worker({ handleSignals: false });
    for (const e of ['received', 'started', 'succeeded'] as const) worker.on(e, () => seen.push(e));
    await worker.start();
    await (await server.send(ok.signature())).get({ timeoutMs: 2000 });
    await until(() => seen.length === 6);
    expect(seen).toEqual([
      'received',
      'middleware:before',
      'started',
      'run',
      'middleware:after',
      'succeeded',
    ]);
  });

  it('stop() returns fetched but unstarted tasks to the broker and waits for running ones', async () => {
    const store = new MemoryBrokerStore();
    const server = make({ store });
    const g = gate();
    let started = 0;
    const slow = defineTask('slow', async () => {
      started++;
      await g.promise;
      return 'ok';
    });
    server.register(slow);
    const worker = server.worker({ concurrency: 1, prefetch: 3, handleSignals: false });
    await worker.start();
    const results = await Promise.all(Array.from({ length: 4 }, () => server.send(slow.signature())));
    await until(() => started === 1);
    const stopping = worker.stop({ timeoutMs: 5000 });
    g.open();
    await stopping;
    expect(started).toBe(1);
    expect((await results[0]?.state())?.state).toBe(TaskStatus.SUCCESS);
    expect(await server.broker.pendingTasks()).toHaveLength(3);
    await worker.start();
    await Promise.all(results.map((r) => r.get({ timeoutMs: 5000 })));
    expect(started).toBe(4);
  });

  it('aborts tasks still running at the shutdown timeout and gives them back instead of failing them', async () => {
    const server = make();
    let aborted = false;
    const stubborn = defineTask('stubborn', function () {
      return new Promise((_, reject) => {
        this.signal.addEventListener('abort', () => {
          aborted = true;
          reject(this.signal.reason);
        });
      });
    });
    server.register(stubborn);
    const worker = server.worker({ concurrency: 1, handleSignals: false });
    await worker.start();
    const r = await server.send(stubborn.signature());
    await until(() => worker.activeCount === 1);
    await worker.stop({ timeoutMs: 50 });
    expect(aborted).toBe(true);
    expect((await r.state())?.state).toBe(TaskStatus.STARTED);
    expect((await server.broker.pendingTasks()).map((s) => s.uuid)).toEqual([r.taskUUID]);
  });

  it('returns a task to the broker when its outcome cannot be stored, and reports success only once stored', async () => {
    const backend = new MemoryBackend();
    let failWrites = true;
    const original = backend.setStateSuccess.bind(backend);
    backend.setStateSuccess = async (sig, results) => {
      if (failWrites) {
        failWrites = false;
        throw new Error('backend unavailable');
      }
      return original(sig, results);
    };
    const server = make({ backend });
    let runs = 0;
    const t = defineTask('counted', () => ++runs);
    server.register(t);
    const worker = server.worker({ handleSignals: false });
    const errors: unknown[] = [];
    const succeeded: unknown[] = [];
    worker.on('error', (e) => errors.push(e.error));
    worker.on('succeeded', (e) => succeeded.push(e.results[0]?.value));
    await worker.start();
    const r = await server.send(t.signature());
    expect(await r.get({ timeoutMs: 5000 })).toBe(2);
    expect(runs).toBe(2);
    expect(String(errors[0])).toMatch(/backend unavailable/);
    await until(() => succeeded.length === 1);
    // The first run's success was never stored, so it was never announced.
    expect(succeeded).toEqual([2]);
  });

  it('refuses to start when the result backend fails a test read, and takes no task', async () => {
    const backend = new MemoryBackend();
    backend.getState = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    };
    const server = make({ backend });
    const t = defineTask('never', () => 1);
    server.register(t);
    await server.broker.publish(t.signature());
    const worker = server.worker({ handleSignals: false });
    let caught: unknown;
    try {
      await worker.start();
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_CONNECTION')).toBe(true);
    expect((caught as Error).message).toMatch(
      /cannot start: the result backend failed a test read: connect ECONNREFUSED.*Check that the result backend is running/,
    );
    expect(worker.isRunning).toBe(false);
    expect(await server.broker.pendingTasks()).toHaveLength(1);
  });

  it('refuses to start when the result backend does not answer in time', async () => {
    const backend = new MemoryBackend();
    backend.getState = () => new Promise(() => {});
    const server = make({ backend });
    const worker = server.worker({ handleSignals: false, backendCheckTimeoutMs: 50 });
    await expect(worker.start()).rejects.toThrow(/did not answer a test read within 50 ms/);
    expect(worker.isRunning).toBe(false);
  });

  it('stop() while start() checks the backend leaves the worker stopped and takes no task', async () => {
    const backend = new MemoryBackend();
    const answer = gate();
    const getState = backend.getState.bind(backend);
    backend.getState = async (uuid) => {
      await answer.promise;
      return getState(uuid);
    };
    const server = make({ backend });
    const t = defineTask('t', () => 1);
    server.register(t);
    await server.broker.publish(t.signature());
    const worker = server.worker({ handleSignals: false });
    const starting = worker.start();
    await worker.stop();
    answer.open();
    await starting;
    expect(worker.isRunning).toBe(false);
    expect(await server.broker.pendingTasks()).toHaveLength(1);
  });

  it('retries a task that throws a RetryLater from another copy of core (recognised by brand)', async () => {
    const server = make();
    let runs = 0;
    const t = defineTask('later', () => {
      runs++;
      if (runs === 1) {
        throw Object.assign(new Error('not yet'), {
          code: 'ERR_RETRY_LATER',
          delayMs: 10,
          [Symbol.for('machinery.error')]: true,
        });
      }
      return 'done';
    });
    server.register(t);
    const worker = server.worker({ handleSignals: false });
    const retried: { delayMs: number; retryCount: number }[] = [];
    worker.on('retried', (e) => retried.push({ delayMs: e.delayMs, retryCount: e.signature.retryCount }));
    await worker.start();
    const r = await server.send(t.signatureWith({ retryCount: 0 }));
    expect(await r.get({ timeoutMs: 5000 })).toBe('done');
    expect(retried).toEqual([{ delayMs: 10, retryCount: 0 }]);
  });

  it('acknowledges a redelivered task that is already complete without running it, and sends its missing callbacks', async () => {
    const store = new MemoryBrokerStore();
    const backend = new MemoryBackend();
    const server = make({ store, backend });
    let runs = 0;
    const calls: unknown[][] = [];
    const t = defineTask('once', () => ++runs);
    const cb = defineTask('cb', (...a: unknown[]) => {
      calls.push(a);
    });
    server.register(t, cb);
    // A crashed attempt stored SUCCESS but died before sending callbacks and acknowledging.
    const sig = t.signatureWith({ onSuccess: [cb.signature()] });
    await backend.setStateSuccess(sig, [{ type: 'int64', value: 7 }]);
    await leftByACrash(store, [sig]);
    const worker = server.worker({ handleSignals: false });
    const duplicates: string[] = [];
    worker.on('duplicate', (e) => duplicates.push(e.signature.uuid));
    await worker.start();
    await until(() => duplicates.length === 1 && calls.length === 1);
    expect(runs).toBe(0);
    expect(calls).toEqual([[7]]);
  });

  it('sends again a callback the crashed attempt stored as PENDING but may never have published', async () => {
    const store = new MemoryBrokerStore();
    const backend = new MemoryBackend();
    const server = make({ store, backend });
    const calls: unknown[][] = [];
    const t = defineTask('once', () => 1);
    const cb = defineTask('cb', (...a: unknown[]) => {
      calls.push(a);
    });
    server.register(t, cb);
    // The crashed attempt stored SUCCESS, then the callback's PENDING, and died before publishing it.
    const sig = t.signatureWith({ onSuccess: [cb.signature()] });
    await backend.setStateSuccess(sig, [{ type: 'int64', value: 7 }]);
    await backend.setStatePending(sig.onSuccess?.[0] as Signature);
    await leftByACrash(store, [sig]);
    await server.worker({ handleSignals: false }).start();
    await until(() => calls.length === 1);
    expect(calls).toEqual([[7]]);
  });

  it('lets only the chord winner’s redelivery re-send a callback the crashed winner may not have sent', async () => {
    const store = new MemoryBrokerStore();
    const backend = new MemoryBackend();
    const server = make({ store, backend });
    const calls: unknown[][] = [];
    const member = defineTask('member', (n: number) => n);
    const cb = defineTask('cb', (...a: unknown[]) => {
      calls.push(a);
    });
    server.register(member, cb);
    const c = chord(group(member.signature(1), member.signature(2), member.signature(3)), cb.signature());
    const tasks = c.group.tasks;
    await backend.initGroup(
      c.group.groupUUID,
      tasks.map((t) => t.uuid),
    );
    // A crashed worker ran every member, triggered the chord with the last one, and died before it
    // sent the callback or acknowledged any member: all three come back at once.
    for (const [i, t] of tasks.entries()) await backend.setStateSuccess(t, [{ type: 'int64', value: i + 1 }]);
    expect(await backend.triggerChord(c.group.groupUUID, (tasks[2] as Signature).uuid)).toBe(true);
    await leftByACrash(store, tasks);
    const worker = server.worker({ handleSignals: false, concurrency: 3 });
    const duplicates: string[] = [];
    worker.on('duplicate', (e) => duplicates.push(e.signature.uuid));
    await worker.start();
    await until(() => duplicates.length === 3 && calls.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('fires a chord whose member a duplicate delivery runs again as the chord is triggered', async () => {
    // The member's outcome is overwritten with STARTED by a duplicate just after the group was seen
    // complete, then stored again when the duplicate finishes: the callback waits for it, never fails.
    class RerunningBackend extends MemoryBackend {
      rerun: Signature | undefined;
      private won = false;
      override async triggerChord(groupUUID: string, by?: string) {
        const won = await super.triggerChord(groupUUID, by);
        this.won ||= won;
        return won;
      }
      override async groupTaskStates(groupUUID: string, count: number) {
        const member = this.won ? this.rerun : undefined;
        if (member !== undefined) {
          this.rerun = undefined;
          await this.setStateStarted(member);
          setTimeout(() => void this.setStateSuccess(member, [{ type: 'int64', value: 2 }]), 150);
        }
        return super.groupTaskStates(groupUUID, count);
      }
    }
    const backend = new RerunningBackend();
    const server = make({ backend });
    const calls: unknown[][] = [];
    const member = defineTask('member', (n: number) => n);
    const cb = defineTask('cb', (...a: unknown[]) => {
      calls.push(a);
    });
    server.register(member, cb);
    const c = chord(group(member.signature(1), member.signature(2)), cb.signature());
    backend.rerun = c.group.tasks[1];
    const result = await server.sendChord(c);
    await server.worker({ handleSignals: false }).start();
    await until(() => calls.length === 1);
    expect(calls).toEqual([[1, 2]]);
    expect((await backend.getState(result.callback.taskUUID))?.state).toBe(TaskStatus.SUCCESS);
  });

  it('rejects an invalid concurrency', () => {
    const server = make();
    expect(() => server.worker({ concurrency: 0 })).toThrow(/concurrency must be an integer ≥ 1/);
  });

  it('refuses to register two different tasks under one name', () => {
    const server = make();
    server.register(defineTask('dup', () => 1));
    expect(() => server.register(defineTask('dup', () => 2))).toThrow(/already registered as "dup"/);
  });

  it('reports a result timeout with a hint', async () => {
    const server = make();
    const r = await server.send(signature('nobody_runs_this'));
    await expect(r.get({ timeoutMs: 50 })).rejects.toThrow(/Timed out after 50 ms.*Is a worker running/);
  });
});
