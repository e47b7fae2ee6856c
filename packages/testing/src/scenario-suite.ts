import {
  arg,
  type Backend,
  type Broker,
  chain,
  chord,
  defineTask,
  group,
  isMachineryError,
  type Lock,
  RetryLater,
  type RetryStrategy,
  Server,
  signature,
  silentLogger,
  TaskStatus,
  type WorkerOptions,
} from '@machinery/core';
import { describe, expect, it } from 'vitest';
import type { AdapterContext } from './context.js';
import { type SuiteBaseOptions, useHarness } from './harness.js';
import { deferred, eventually } from './helpers.js';
import {
  add,
  delayTest,
  goSuiteTasks,
  multiply,
  panicTask,
  returnJustError,
  returnMultipleValues,
  sum,
} from './scenario-tasks.js';

/** The adapters one process of a scenario uses. */
export interface ScenarioAdapters {
  broker: Broker;
  backend: Backend;
  lock?: Lock;
}

/** Options for {@link scenarioSuite}. */
export interface ScenarioSuiteOptions extends Omit<SuiteBaseOptions<ScenarioAdapters>, 'create'> {
  /** Builds the adapters of one "process"; called once per server in a test, same namespace. */
  create: (ctx: AdapterContext) => ScenarioAdapters | Promise<ScenarioAdapters>;
  /** Puts raw bytes on a queue, bypassing the codec (for the malformed-message scenario). */
  injectRaw?: (ctx: AdapterContext, queue: string, body: string) => Promise<void>;
  /** Restarts the broker service (for the broker-restart scenario). */
  restartBroker?: (ctx: AdapterContext) => Promise<void>;
}

const fastRetry: RetryStrategy = { next: () => ({ timeout: 0, delayMs: 20 }) };
const GET = { timeoutMs: 20_000 };

/**
 * End-to-end scenarios through a real Server and Worker: Go Machinery's nine integration scenarios
 * with their expected values, plus split registrations, a worker crash, a broker restart, bad input,
 * retries, timeouts, failed chord members, schedules and restartable workers.
 */
export function scenarioSuite(options: ScenarioSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? 60_000;
  describe(`${options.name}: scenarios`, () => {
    const harness = useHarness<ScenarioAdapters & { close(): Promise<void> }>({
      ...options,
      create: async (ctx) => {
        const adapters = await options.create(ctx);
        return { ...adapters, close: async () => {} };
      },
    });

    /** A server over fresh adapters (one "process"); closed after the test. */
    async function process(extra: { silent?: boolean } = {}): Promise<Server> {
      const h = harness();
      const adapters = await h.make();
      const server = new Server({
        broker: adapters.broker,
        backend: adapters.backend,
        ...(adapters.lock ? { lock: adapters.lock } : {}),
        ...(extra.silent ? { logger: silentLogger } : {}),
      });
      return h.closer.add(server);
    }

    async function startWorker(server: Server, opts: WorkerOptions = {}) {
      const worker = server.worker({ concurrency: 4, handleSignals: false, retry: fastRetry, ...opts });
      await worker.start();
      return worker;
    }

    async function goSuite(): Promise<Server> {
      const server = await process();
      server.register(...goSuiteTasks);
      await startWorker(server, { concurrency: 10 });
      return server;
    }

    it(
      'sends a task: add(1, 1) = 2 and sum([1, 2]) = 3',
      async () => {
        const server = await goSuite();
        expect(await (await server.send(add.signature(1, 1))).get(GET)).toBe(2);
        expect(await (await server.send(sum.signature([1, 2]))).get(GET)).toBe(3);
      },
      timeout,
    );

    for (const sendConcurrency of [0, 2]) {
      it(
        `sends a group with send concurrency ${sendConcurrency}: results [2, 4, 11]`,
        async () => {
          const server = await goSuite();
          const g = group(add.signature(1, 1), add.signature(2, 2), add.signature(5, 6));
          const results = await (await server.sendGroup(g, { sendConcurrency })).get(GET);
          expect([...results].sort((a, b) => a - b)).toEqual([2, 4, 11]);
        },
        timeout,
      );
    }

    it(
      'sends a chord: multiply() over the group = 88',
      async () => {
        const server = await goSuite();
        const c = chord(
          group(add.signature(1, 1), add.signature(2, 2), add.signature(5, 6)),
          multiply.signature(),
        );
        expect(await (await server.sendChord(c, { sendConcurrency: 10 })).get(GET)).toBe(88);
      },
      timeout,
    );

    it(
      'sends a chain: add(2,2) → add(5,6) → multiply(4) = 60',
      async () => {
        const server = await goSuite();
        const c = chain(add.signature(2, 2), add.signature(5, 6), multiply.signature(4));
        expect(await (await server.sendChain(c)).get(GET)).toBe(60);
      },
      timeout,
    );

    it(
      'returns just an error: "Test error", and succeeds with no results',
      async () => {
        const server = await goSuite();
        const failing = await server.send(returnJustError.signature('Test error', true));
        await expect(failing.get(GET)).rejects.toThrow(/^Test error$/);
        const state = await failing.state();
        expect(state?.state).toBe(TaskStatus.FAILURE);
        expect(state?.error).toBe('Test error');
        const ok = await server.send(returnJustError.signature('', false));
        expect(await ok.get(GET)).toBeUndefined();
        expect((await ok.state())?.results).toEqual([]);
      },
      timeout,
    );

    it(
      'returns multiple values: "foo", "bar"; and an error when asked to fail',
      async () => {
        const server = await goSuite();
        expect(
          await (await server.send(returnMultipleValues.signature('foo', 'bar', false))).get(GET),
        ).toEqual(['foo', 'bar']);
        await expect(
          (await server.send(returnMultipleValues.signature('', '', true))).get(GET),
        ).rejects.toThrow('some error');
      },
      timeout,
    );

    it(
      'a throwing task fails with its message: "oops"',
      async () => {
        const server = await goSuite();
        const r = await server.send(panicTask.signature());
        await expect(r.get(GET)).rejects.toThrow(/^oops$/);
      },
      timeout,
    );

    it(
      'runs a task with an ETA 100 ms ahead no earlier than the ETA',
      async () => {
        const server = await goSuite();
        const eta = new Date(Date.now() + 100);
        const ran = await (await server.send(delayTest.signatureWith({ eta }))).get(GET);
        expect(typeof ran).toBe('bigint');
        expect(ran).toBeGreaterThanOrEqual(BigInt(eta.getTime()) * 1_000_000n);
      },
      timeout,
    );

    it(
      'two workers that each know only some tasks finish a mixed group: [5, 20]',
      async () => {
        const onlyAdd = await process();
        onlyAdd.register(add);
        const onlyMultiply = await process();
        onlyMultiply.register(multiply);
        // prefetch 0, the setting for workers that share a queue but not their registrations: a task one
        // worker cannot run is then never held back from the other by a prefetch slot.
        await startWorker(onlyAdd, { concurrency: 1, prefetch: 0 });
        await startWorker(onlyMultiply, { concurrency: 1, prefetch: 0 });
        const g = group(multiply.signature(4, 5), add.signature(2, 3));
        const results = await (await onlyAdd.sendGroup(g)).get(GET);
        expect([...results].sort((a, b) => a - b)).toEqual([5, 20]);
      },
      timeout,
    );

    it(
      'finishes a task whose worker died mid-task (at-least-once)',
      async () => {
        const firstRun = deferred();
        const hang = deferred();
        let runs = 0;
        const fragile = defineTask('fragile', async () => {
          runs++;
          if (runs === 1) {
            firstRun.resolve();
            await hang.promise;
          }
          return 'done';
        });
        const doomed = await process({ silent: true });
        doomed.register(fragile);
        await startWorker(doomed, { concurrency: 1 });
        const producer = await process();
        const result = await producer.send(fragile.signature());
        await firstRun.promise;
        // The worker's process "dies": its connections go away without acknowledging the task.
        await doomed.broker.close();
        await doomed.backend?.close();
        const survivor = await process();
        survivor.register(fragile);
        await startWorker(survivor, { concurrency: 1 });
        expect(await result.get({ timeoutMs: harness().ctx.redeliveryTimeoutMs + 20_000 })).toBe('done');
        expect(runs).toBe(2);
        hang.resolve();
      },
      timeout,
    );

    it(
      'runs a task that outlasts several redelivery timeouts once, while a second worker waits',
      async () => {
        const { redeliveryTimeoutMs } = harness().ctx;
        let runs = 0;
        // The broker keeps the lease of a running task alive by itself: the Worker never extends it.
        const long = defineTask('outlasts_lease', async () => {
          runs++;
          await new Promise((resolve) => setTimeout(resolve, redeliveryTimeoutMs * 3 + 500));
          return 'done';
        });
        const first = await process();
        first.register(long);
        await startWorker(first, { concurrency: 1 });
        const result = await first.send(long.signature());
        await eventually(() => expect(runs).toBe(1));
        const second = await process();
        second.register(long);
        await startWorker(second, { concurrency: 1 });
        expect(await result.get(GET)).toBe('done');
        expect(runs).toBe(1);
      },
      timeout,
    );

    it(
      'keeps consuming after a malformed message',
      async (t) => {
        t.skip(!options.injectRaw, 'the harness gives no injectRaw()');
        const server = await goSuite();
        await options.injectRaw?.(harness().ctx, server.broker.defaultQueue, '{"UUID": "task_bad", "Name": ');
        await options.injectRaw?.(harness().ctx, server.broker.defaultQueue, '42');
        expect(await (await server.send(add.signature(20, 22))).get(GET)).toBe(42);
        if (server.broker.capabilities.deadLetterInspection) {
          await eventually(async () => expect(await server.broker.deadLetters()).toHaveLength(2));
        }
      },
      timeout,
    );

    for (const [what, args, message] of [
      [
        'an argument of a type Go does not know',
        '[{"Type":"complex128","Value":1}]',
        /complex128 is not one of supported types/,
      ],
      ['a JSON string where Go expects int64', '[{"Type":"int64","Value":"42"}]', /"42" is not int64/],
      ['a fraction where Go expects int64', '[{"Type":"int64","Value":1.5}]', /1\.5 is not int64/],
      ['an int8 out of range', '[{"Type":"int8","Value":300}]', /300 is not int8/],
    ] as const) {
      it(
        `fails a task sent by a foreign producer with ${what}, and keeps consuming`,
        async (t) => {
          t.skip(!options.injectRaw, 'the harness gives no injectRaw()');
          const server = await goSuite();
          const uuid = `task_${harness().ctx.namespace}_${what.length}`;
          await server.backend?.setStatePending(signature('add', [], { uuid }));
          const body = `{"UUID":"${uuid}","Name":"add","RoutingKey":"${server.broker.defaultQueue}","Args":${args}}`;
          await options.injectRaw?.(harness().ctx, server.broker.defaultQueue, body);
          await expect(server.result(uuid, 'add').get(GET)).rejects.toThrow(message);
          expect(await (await server.send(add.signature(2, 2))).get(GET)).toBe(4);
        },
        timeout,
      );
    }

    it(
      'fails an unregistered task with a clear reason instead of requeueing it forever',
      async () => {
        const server = await process();
        server.register(add);
        await startWorker(server, { unregisteredTaskRequeues: 2 });
        const r = await server.send(signature('nobody_knows_me', [1]));
        const err = await r.get(GET).catch((e: unknown) => e);
        expect(isMachineryError(err, 'ERR_TASK_FAILED')).toBe(true);
        expect((err as Error).message).toMatch(/"nobody_knows_me" is not registered/);
        expect(await (await server.send(add.signature(1, 2))).get(GET)).toBe(3);
        if (server.broker.capabilities.deadLetterInspection) {
          await eventually(async () => expect(await server.broker.deadLetters()).toHaveLength(1));
        }
      },
      timeout,
    );

    it(
      'drops an unregistered task marked ignoreWhenTaskNotRegistered',
      async () => {
        const server = await process();
        server.register(add);
        const worker = await startWorker(server);
        const dropped = signature('unknown_but_ignored', [], { ignoreWhenTaskNotRegistered: true });
        await server.send(dropped);
        expect(await (await server.send(add.signature(1, 1))).get(GET)).toBe(2);
        await eventually(async () =>
          expect((await server.result(dropped.uuid).state())?.state).toBe(TaskStatus.PENDING),
        );
        expect(worker.isRunning).toBe(true);
      },
      timeout,
    );

    it(
      'retries a failing task retryCount times, then stores FAILURE',
      async () => {
        const server = await process();
        let calls = 0;
        const flaky = defineTask('always_fails', () => {
          calls++;
          throw new Error(`attempt ${calls} failed`);
        });
        server.register(flaky);
        await startWorker(server);
        const r = await server.send(flaky.signatureWith({ retryCount: 2 }));
        await expect(r.get(GET)).rejects.toThrow('attempt 3 failed');
        expect(calls).toBe(3);
      },
      timeout,
    );

    it(
      'RetryLater runs the task again without consuming a retry',
      async () => {
        const server = await process();
        let calls = 0;
        const later = defineTask('retry_later', () => {
          calls++;
          if (calls < 3) throw new RetryLater(30, 'not yet');
          return calls;
        });
        server.register(later);
        await startWorker(server);
        expect(await (await server.send(later.signature())).get(GET)).toBe(3);
      },
      timeout,
    );

    it(
      'a chord with a failed member fails its callback visibly and runs the callback’s error path',
      async () => {
        const server = await goSuite();
        const errors: string[] = [];
        const report = defineTask('report_error', (message: string) => {
          errors.push(message);
        });
        server.register(report);
        const callback = multiply.signatureWith({ onError: [signature(report.name)] });
        const c = chord(group(add.signature(1, 1), panicTask.signature(), add.signature(2, 2)), callback);
        const result = await server.sendChord(c);
        const cb = await result.callback.wait(GET);
        expect(cb.state).toBe(TaskStatus.FAILURE);
        expect(cb.error).toMatch(/member .* \(panic\) ended in FAILURE: oops/);
        await eventually(() => expect(errors).toHaveLength(1));
        expect(errors[0]).toMatch(/ended in FAILURE: oops/);
        await expect(result.get(GET)).rejects.toThrow('oops');
      },
      timeout,
    );

    it(
      'sends onError callbacks with the error text prepended',
      async () => {
        const server = await goSuite();
        const seen: unknown[][] = [];
        const onErr = defineTask('on_err', (...a: unknown[]) => {
          seen.push(a);
        });
        server.register(onErr);
        await server.send(panicTask.signatureWith({ onError: [onErr.signature('context')] }));
        await eventually(() => expect(seen).toEqual([['oops', 'context']]));
      },
      timeout,
    );

    it(
      'times out a task that runs too long and aborts its signal',
      async () => {
        const server = await process();
        let aborted = false;
        const slow = defineTask(
          'slow',
          function () {
            return new Promise((_, reject) => {
              this.signal.addEventListener('abort', () => {
                aborted = true;
                reject(this.signal.reason);
              });
            });
          },
          { timeoutMs: 100 },
        );
        server.register(slow);
        await startWorker(server);
        await expect((await server.send(slow.signature())).get(GET)).rejects.toThrow(
          /timed out after 100 ms/,
        );
        expect(aborted).toBe(true);
      },
      timeout,
    );

    it(
      'fails a task whose arguments have the wrong type, and keeps going',
      async () => {
        const server = await goSuite();
        const wrong = signature('add', [arg('int64', '42' as unknown as number), 1]);
        await expect((await server.send(wrong)).get(GET)).rejects.toThrow(
          /Invalid arguments for task "add".*"42" is not int64/,
        );
        const typed = defineTask('typed', (n: number) => n * 2, { argTypes: ['int64'] });
        server.register(typed);
        await expect((await server.send(signature('typed', ['x']))).get(GET)).rejects.toThrow(
          /argument 1 has type string, expected int64/,
        );
        expect(await (await server.send(typed.signature(21))).get(GET)).toBe(42);
      },
      timeout,
    );

    it(
      'looks up group and chord results from their UUIDs alone',
      async () => {
        const server = await goSuite();
        const c = chord(group(add.signature(1, 1), add.signature(2, 2)), multiply.signature());
        await server.sendChord(c);
        const other = await process();
        const groupResult = await other.groupResult<number>(c.group.groupUUID);
        expect(await groupResult.get(GET)).toEqual([2, 4]);
        expect(await (await other.chordResult<number>(c.group.groupUUID, c.callback.uuid)).get(GET)).toBe(8);
      },
      timeout,
    );

    it(
      'fires a periodic task on schedule, and stops once it is removed',
      async () => {
        const server = await process();
        let ticks = 0;
        const tick = defineTask('tick', () => {
          ticks++;
        });
        server.register(tick);
        await startWorker(server);
        const handle = server.schedule('@every 200ms', 'ticker', tick.signature());
        await eventually(() => expect(ticks).toBeGreaterThanOrEqual(2), { timeoutMs: 10_000 });
        handle.remove();
        expect(handle.nextRun()).toBeNull();
      },
      timeout,
    );

    it(
      'stop() is idempotent and a stopped worker can start again',
      async () => {
        const server = await goSuite();
        const worker = await startWorker(server);
        await Promise.all([worker.stop(), worker.stop()]);
        await worker.stop();
        expect(worker.isRunning).toBe(false);
        await worker.start();
        expect(await (await server.send(add.signature(3, 4))).get(GET)).toBe(7);
      },
      timeout,
    );

    it(
      'resumes consuming after the broker restarts',
      async (t) => {
        t.skip(!options.restartBroker, 'the harness gives no restartBroker()');
        const server = await goSuite();
        expect(await (await server.send(add.signature(1, 1))).get(GET)).toBe(2);
        await options.restartBroker?.(harness().ctx);
        const r = await eventually(() => server.send(add.signature(2, 3)), {
          timeoutMs: 30_000,
          intervalMs: 200,
        });
        expect(await r.get({ timeoutMs: 30_000 })).toBe(5);
      },
      timeout,
    );
  });
}
