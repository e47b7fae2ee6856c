import {
  type Backend,
  type Broker,
  type ControlPlane,
  chain,
  chord,
  defineTask,
  group,
  isMachineryError,
  MemoryBackend,
  MemoryBackendStore,
  MemoryControlPlane,
  MemoryControlPlaneStore,
  Server,
  signature,
  silentLogger,
  type TaskEvent,
  TaskStatus,
  type Worker,
} from '@machinery/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { AdapterContext, AdapterFactory } from './context.js';
import { type Harness, type SuiteBaseOptions, useHarness } from './harness.js';
import { deferred, eventually, observeFor, PerNamespace } from './helpers.js';

/** The data plane a control scenario runs on; called once per server in a test, same namespace. */
export interface ControlScenarioAdapters {
  broker: Broker;
  /**
   * Default: a `MemoryBackend` on one store per test, shared by its servers as processes share a
   * server — enough for a broker package proving revocation and pause on its own broker.
   */
  backend?: Backend;
}

/** Options for {@link controlScenarioSuite}. */
export interface ControlScenarioSuiteOptions extends Omit<SuiteBaseOptions<ControlPlane>, 'create'> {
  /**
   * Builds a broker and backend for one server (one "process"); every call within a test gets the same
   * namespace, so the servers of a test share queues and results, as processes share a server.
   */
  adapters: (ctx: AdapterContext) => ControlScenarioAdapters | Promise<ControlScenarioAdapters>;
  /**
   * Builds a control plane instance for one server; every call within a test must reach the same
   * store. Default: a `MemoryControlPlane` on one store per test, which is what a broker package
   * proving revocation and pause on its own broker needs.
   */
  create?: AdapterFactory<ControlPlane>;
}

/** A getter for the current test's harness. */
type HarnessOf = () => Harness<ControlPlane>;

const GET = { timeoutMs: 20_000 };
const SOON = { timeoutMs: 10_000, intervalMs: 20 };

/**
 * Revocation and pause proven end to end, through real Servers and Workers on the given broker and
 * backend: a task revoked while queued, delayed, waiting to retry or running never (again) runs and
 * ends in `FAILURE` saying it was revoked; a revoked group, chord or chain stops; a revocation outlives
 * a worker restart; a revoked schedule is removed; a paused queue is not fetched by any worker, a
 * paused worker holds nothing, and resumed workers go on; workers are listed, events and progress reach
 * another process.
 *
 * Run it from a broker package with the default in-memory control plane, or through
 * `controlPlaneSuite({ adapters })` from a control plane package.
 */
export function controlScenarioSuite(options: ControlScenarioSuiteOptions): void {
  const planes = new PerNamespace(() => new MemoryControlPlaneStore());
  const create: AdapterFactory<ControlPlane> =
    options.create ?? (({ namespace }) => new MemoryControlPlane({ store: planes.get(namespace) }));
  const base: SuiteBaseOptions<ControlPlane> = {
    ...options,
    create,
    cleanup: async (ctx) => {
      planes.delete(ctx.namespace);
      await options.cleanup?.(ctx);
    },
  };
  describe(`${options.name}: control end to end`, () => {
    controlScenarios(options, useHarness(base));
  });
}

/** The scenarios, registered inside the caller's `describe` on its harness. */
export function controlScenarios(
  options: Pick<ControlScenarioSuiteOptions, 'adapters' | 'testTimeoutMs'>,
  harness: HarnessOf,
): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  const results = new PerNamespace(() => new MemoryBackendStore());
  const adapters = async (ctx: AdapterContext): Promise<Required<ControlScenarioAdapters>> => {
    const { broker, backend } = await options.adapters(ctx);
    return { broker, backend: backend ?? new MemoryBackend({ store: results.get(ctx.namespace) }) };
  };
  // Each test's results are a few states; they go with the suite.
  afterAll(() => results.clear());

  /** A server on its own control plane instance: two servers in one test are two processes. */
  async function server(heartbeatMs = 5000): Promise<Server> {
    const h = harness();
    const control = await h.make();
    const { broker, backend } = await adapters(h.ctx);
    return h.closer.add(
      new Server({ broker, backend, control, controlOptions: { heartbeatMs }, logger: silentLogger }),
    );
  }
  /** A server without a control plane: it never pauses and refuses no revoked task. */
  async function uncontrolledServer(): Promise<Server> {
    const h = harness();
    const { broker, backend } = await adapters(h.ctx);
    return h.closer.add(new Server({ broker, backend, logger: silentLogger }));
  }
  const queueOf = (s: Server) => s.broker.defaultQueue;
  /** UUIDs of the tasks `worker` failed, as they fail. */
  function failedOn(worker: Worker): string[] {
    const failed: string[] = [];
    worker.on('failed', ({ signature }) => failed.push(signature.uuid));
    return failed;
  }
  /** UUIDs of the deliveries `s`'s broker hands to its workers, whether they start or not. */
  function fetchedBy(s: Server): string[] {
    const fetched: string[] = [];
    const broker = s.broker;
    const consume = broker.consume.bind(broker);
    broker.consume = (queue, onDelivery, consumeOptions) =>
      consume(
        queue,
        (delivery) => {
          fetched.push(delivery.signature.uuid);
          onDelivery(delivery);
        },
        consumeOptions,
      );
    return fetched;
  }
  /** A task function that runs until its signal is aborted, then rejects with the reason. */
  const untilAborted = (onAbort: (reason: unknown) => void = () => {}) =>
    function (this: { signal: AbortSignal }): Promise<never> {
      return new Promise((_, reject) => {
        this.signal.addEventListener('abort', () => {
          onAbort(this.signal.reason);
          reject(this.signal.reason);
        });
      });
    };

  it(
    'a task revoked while queued never runs and ends in FAILURE saying it was revoked',
    async () => {
      const producer = await server();
      const worker = await server();
      let runs = 0;
      const task = defineTask('ctl_queued', () => {
        runs++;
      });
      const marker = defineTask('ctl_marker', () => 'done');
      worker.register(task, marker);
      const result = await producer.send(task.signature());
      expect(await producer.revoke(result.taskUUID, { reason: 'not wanted' })).toEqual([result.taskUUID]);
      const w = worker.worker({ concurrency: 1, handleSignals: false });
      const failed = failedOn(w);
      await w.start();
      const error = await result.get(GET).catch((e: unknown) => e);
      expect(isMachineryError(error, 'ERR_TASK_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/revoked: not wanted/);
      // The worker took the revoked delivery (it failed it) and then ran the next task.
      expect(await (await producer.send(marker.signature())).get(GET)).toBe('done');
      await eventually(() => expect(failed).toContain(result.taskUUID), SOON);
      expect(runs).toBe(0);
    },
    timeout,
  );

  it(
    'running tasks revoked from another process have their signals aborted on every worker and end in FAILURE',
    async () => {
      const producer = await server();
      const workers = [await server(), await server()];
      const started = [deferred(), deferred()];
      const aborted: unknown[][] = [[], []];
      for (const [i, s] of workers.entries()) {
        const slow = defineTask('ctl_slow', function (this: { signal: AbortSignal }) {
          started[i]?.resolve();
          return untilAborted((reason) => aborted[i]?.push(reason)).call(this);
        });
        s.register(slow);
        // One slot and no prefetch each: two tasks that both start run one on each worker.
        await s.worker({ concurrency: 1, prefetch: 0, handleSignals: false }).start();
      }
      const results = await producer.sendMany([signature('ctl_slow'), signature('ctl_slow')]);
      await Promise.all(started.map((d) => d.promise));
      await producer.revoke(results.map((r) => r.taskUUID));
      for (const result of results) {
        const state = await result.wait(GET);
        expect(state.state).toBe(TaskStatus.FAILURE);
        expect(state.error).toMatch(/was revoked/);
      }
      for (const reasons of aborted) {
        expect(reasons).toHaveLength(1);
        expect(isMachineryError(reasons[0], 'ERR_TASK_ABORTED')).toBe(true);
      }
    },
    timeout,
  );

  it(
    'a task revoked before its ETA never runs',
    async () => {
      const producer = await server();
      const worker = await server();
      let runs = 0;
      const later = defineTask('ctl_later', () => {
        runs++;
      });
      worker.register(later);
      const w = worker.worker({ handleSignals: false });
      const failed = failedOn(w);
      await w.start();
      const result = await producer.send(later.signatureWith({ eta: new Date(Date.now() + 1500) }));
      await producer.revoke(result.taskUUID);
      expect((await result.wait(GET)).error).toMatch(/revoked/);
      // Once due, the delivery reaches the worker, which fails it without running it.
      await eventually(() => expect(failed).toContain(result.taskUUID), SOON);
      expect(runs).toBe(0);
    },
    timeout,
  );

  it(
    'a task revoked while waiting to retry never runs again, and its result answers FAILURE at once',
    async () => {
      const producer = await server();
      const worker = await server();
      let runs = 0;
      // Long enough that the revocation lands first on a slow machine.
      const countdown = { next: () => ({ timeout: 4, delayMs: 4000 }) };
      const flaky = defineTask(
        'ctl_flaky',
        () => {
          runs++;
          throw new Error('first attempt fails');
        },
        { retryCount: 3, retry: countdown },
      );
      worker.register(flaky);
      const w = worker.worker({ handleSignals: false });
      const failed = failedOn(w);
      const retried: string[] = [];
      w.on('retried', ({ signature }) => retried.push(signature.uuid));
      await w.start();
      const result = await producer.send(flaky.signature());
      // The retry is sent at once with its ETA; as in Go, sending it stores PENDING over RETRY.
      await eventually(() => expect(retried).toEqual([result.taskUUID]), SOON);
      expect((await result.state())?.state).toBe(TaskStatus.PENDING);
      await producer.revoke(result.taskUUID, { reason: 'stop retrying' });
      // Marked by the revoker: answered from the stored state, without waiting for the retry.
      expect((await result.state())?.state).toBe(TaskStatus.FAILURE);
      const error = await result.get(GET).catch((e: unknown) => e);
      expect(isMachineryError(error, 'ERR_TASK_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/revoked: stop retrying/);
      // The retry still arrives when due; the worker refuses it.
      await eventually(() => expect(failed).toContain(result.taskUUID), SOON);
      expect(runs).toBe(1);
      expect(retried).toEqual([result.taskUUID]);
    },
    timeout,
  );

  it(
    'revoking a group by its UUID revokes every member: none runs, each ends in FAILURE revoked',
    async () => {
      const producer = await server();
      const worker = await server();
      let runs = 0;
      const member = defineTask('ctl_group_member', (n: number) => {
        runs++;
        return n;
      });
      worker.register(member);
      const members = group(member.signature(1), member.signature(2), member.signature(3));
      const result = await producer.sendGroup(members);
      const revoked = await producer.revoke(members.groupUUID, { reason: 'batch cancelled' });
      expect(revoked).toEqual(expect.arrayContaining(members.tasks.map((t) => t.uuid)));
      // Waiting members are marked at once: their results answer before any worker runs.
      for (const r of result.results) expect((await r.state())?.state).toBe(TaskStatus.FAILURE);
      const w = worker.worker({ handleSignals: false });
      const failed = failedOn(w);
      await w.start();
      for (const state of await result.wait(GET)) {
        expect(state.state).toBe(TaskStatus.FAILURE);
        expect(state.error).toMatch(/revoked: batch cancelled/);
      }
      // Every member reached the worker, which failed it without running it.
      const uuids = members.tasks.map((t) => t.uuid);
      await eventually(() => expect(failed).toEqual(expect.arrayContaining(uuids)), SOON);
      expect(runs).toBe(0);
    },
    timeout,
  );

  it(
    'a revocation survives a worker restart: a task revoked while no worker runs fails in a fresh process without running',
    async () => {
      const producer = await server();
      let runs = 0;
      const task = defineTask('ctl_restarted', () => {
        runs++;
      });
      const before = await server();
      before.register(task);
      await before.worker({ handleSignals: false }).start();
      // The worker's process ends: its listeners and connections are gone.
      await before.close();
      const result = await producer.send(task.signature());
      await producer.revoke(result.taskUUID, { reason: 'while down' });
      const after = await server();
      after.register(task);
      const w = after.worker({ handleSignals: false });
      const failed = failedOn(w);
      await w.start();
      // The fresh process knew nothing of the announcement: it read the stored revocation.
      await eventually(() => expect(failed).toContain(result.taskUUID), SOON);
      expect((await result.wait(GET)).error).toMatch(/revoked: while down/);
      expect(runs).toBe(0);
    },
    timeout,
  );

  it(
    'revoking a chord by its group UUID revokes its members: none runs, and the callback never runs',
    async () => {
      const producer = await server();
      const worker = await server();
      let memberRuns = 0;
      let callbackRuns = 0;
      const member = defineTask('ctl_member', (n: number) => {
        memberRuns++;
        return n;
      });
      const callback = defineTask('ctl_callback', (...ns: number[]) => {
        callbackRuns++;
        return ns.length;
      });
      worker.register(member, callback);
      const members = group(member.signature(1), member.signature(2));
      const result = await producer.sendChord(chord(members, callback.signature()));
      const revoked = await producer.revoke(members.groupUUID);
      expect(revoked).toEqual(expect.arrayContaining(members.tasks.map((t) => t.uuid)));
      await worker.worker({ handleSignals: false }).start();
      const error = await result.get(GET).catch((e: unknown) => e);
      expect(isMachineryError(error, 'ERR_TASK_FAILED')).toBe(true);
      for (const state of await result.group.wait(GET)) expect(state.error).toMatch(/revoked/);
      expect((await result.callback.wait(GET)).state).toBe(TaskStatus.FAILURE);
      expect(memberRuns).toBe(0);
      expect(callbackRuns).toBe(0);
    },
    timeout,
  );

  it(
    'a chord member revoked while queued fails the chord: the callback ends in FAILURE and never runs',
    async () => {
      const producer = await server();
      const worker = await server();
      let memberRuns = 0;
      let callbackRuns = 0;
      const member = defineTask('ctl_queued_member', (n: number) => {
        memberRuns++;
        return n;
      });
      const callback = defineTask('ctl_queued_cb', () => {
        callbackRuns++;
      });
      worker.register(member, callback);
      const revokedSig = member.signature(2);
      const result = await producer.sendChord(
        chord(group(member.signature(1), revokedSig), callback.signature()),
      );
      await producer.revoke(revokedSig.uuid);
      await worker.worker({ handleSignals: false }).start();
      const [keptState, revokedState] = await result.group.wait(GET);
      expect(keptState?.state).toBe(TaskStatus.SUCCESS);
      expect(revokedState?.error).toMatch(/was revoked/);
      // The refused member still counts as done: the last member to finish fails the callback.
      const callbackState = await result.callback.wait(GET);
      expect(callbackState.state).toBe(TaskStatus.FAILURE);
      expect(callbackState.error).toMatch(new RegExp(revokedSig.uuid));
      expect(memberRuns).toBe(1);
      expect(callbackRuns).toBe(0);
    },
    timeout,
  );

  it(
    'a revoked chord member that runs does not trigger the callback',
    async () => {
      const producer = await server();
      const worker = await server();
      const started = deferred();
      let callbackRuns = 0;
      const quick = defineTask('ctl_quick', () => 1);
      const stuck = defineTask('ctl_stuck', function (this: { signal: AbortSignal }) {
        started.resolve();
        return untilAborted().call(this);
      });
      const callback = defineTask('ctl_chord_cb', () => {
        callbackRuns++;
      });
      worker.register(quick, stuck, callback);
      await worker.worker({ concurrency: 4, handleSignals: false }).start();
      const stuckSig = stuck.signature();
      const result = await producer.sendChord(
        chord(group(quick.signature(), stuckSig), callback.signature()),
      );
      await started.promise;
      await producer.revoke(stuckSig.uuid);
      const [quickState, stuckState] = await result.group.wait(GET);
      expect(quickState?.state).toBe(TaskStatus.SUCCESS);
      expect(stuckState?.error).toMatch(/was revoked/);
      expect((await result.callback.wait(GET)).state).toBe(TaskStatus.FAILURE);
      expect(callbackRuns).toBe(0);
    },
    timeout,
  );

  it(
    'a revoked chain stops: the link revoked while running fails and the next one never runs',
    async () => {
      const producer = await server();
      const worker = await server();
      const started = deferred();
      let nextRuns = 0;
      const first = defineTask('ctl_chain_first', function (this: { signal: AbortSignal }) {
        started.resolve();
        return untilAborted().call(this);
      });
      const second = defineTask('ctl_chain_second', () => {
        nextRuns++;
      });
      worker.register(first, second);
      const w = worker.worker({ handleSignals: false });
      await w.start();
      const firstSig = first.signature();
      const result = await producer.sendChain(chain(firstSig, second.signature()));
      await started.promise;
      await producer.revoke(firstSig.uuid);
      const error = await result.get(GET).catch((e: unknown) => e);
      expect(isMachineryError(error, 'ERR_TASK_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/was revoked/);
      // The next link is sent only on success: it must never be sent, hence never run.
      await observeFor(300);
      expect(nextRuns).toBe(0);
      expect(await result.results[1]?.state()).toBeUndefined();
    },
    timeout,
  );

  it(
    'a chain whose later link is revoked runs the links before it, then stops at the revoked one',
    async () => {
      const producer = await server();
      const worker = await server();
      const started = deferred();
      const release = deferred();
      let thirdRuns = 0;
      const first = defineTask('ctl_link_a', async () => {
        started.resolve();
        await release.promise;
        return 1;
      });
      const second = defineTask('ctl_link_b', (n: number) => n + 1);
      const third = defineTask('ctl_link_c', (n: number) => {
        thirdRuns++;
        return n + 1;
      });
      worker.register(first, second, third);
      const w = worker.worker({ handleSignals: false });
      const failed = failedOn(w);
      await w.start();
      // Each link gets the previous link's result appended to its arguments.
      const secondSig = signature(second.name);
      const result = await producer.sendChain(chain(first.signature(), secondSig, signature(third.name)));
      await started.promise;
      // Not sent yet: the link is sent when the first succeeds, and refused then.
      await producer.revoke(secondSig.uuid, { reason: 'skip the rest' });
      release.resolve();
      expect(await result.results[0]?.get(GET)).toBe(1);
      const error = await result.get(GET).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/revoked: skip the rest/);
      await eventually(() => expect(failed).toContain(secondSig.uuid), SOON);
      await observeFor(300);
      expect(thirdRuns).toBe(0);
      expect(await result.results[2]?.state()).toBeUndefined();
    },
    timeout,
  );

  it(
    'a paused queue is not fetched by any worker while producers keep sending; resumed, its tasks run',
    async () => {
      const producer = await server();
      const workers = [await server(), await server()];
      let runs = 0;
      const started: Worker[] = [];
      for (const s of workers) {
        s.register(defineTask('ctl_work', () => ++runs));
        const w = s.worker({ handleSignals: false });
        await w.start();
        started.push(w);
      }
      await producer.pause(queueOf(producer));
      await eventually(() => expect(started.map((w) => w.isPaused)).toEqual([true, true]), SOON);
      const results = await producer.sendMany([
        signature('ctl_work'),
        signature('ctl_work'),
        signature('ctl_work'),
      ]);
      await observeFor(500);
      expect(runs).toBe(0);
      for (const r of results) expect((await r.state())?.state).toBe(TaskStatus.PENDING);
      await producer.resume(queueOf(producer));
      for (const r of results) await r.get(GET);
      expect(runs).toBe(3);
      await eventually(() => expect(started.map((w) => w.isPaused)).toEqual([false, false]), SOON);
    },
    timeout,
  );

  it(
    'a paused worker holds nothing: what it fetched but had not started goes back to the queue, what runs stays',
    async () => {
      const producer = await server();
      const paused = await server();
      const fetched = fetchedBy(paused);
      const started = deferred();
      const release = deferred();
      const ranOn: string[] = [];
      paused.register(
        defineTask('ctl_hold_first', async () => {
          started.resolve();
          await release.promise;
        }),
        defineTask('ctl_hold_second', () => {
          ranOn.push('paused worker');
        }),
      );
      // One slot and one prefetched delivery: while the first runs, the second waits in the worker.
      const w = paused.worker({ concurrency: 1, prefetch: 1, handleSignals: false });
      await w.start();
      const first = await producer.send(signature('ctl_hold_first'));
      await started.promise;
      const second = await producer.send(signature('ctl_hold_second'));
      await eventually(() => expect(fetched).toContain(second.taskUUID), SOON);
      await producer.pause(queueOf(producer));
      await eventually(() => expect(w.isPaused).toBe(true), SOON);
      // A consumer without a control plane does not pause: it gets what the paused worker gave back,
      // while that worker's running task goes on.
      const other = await uncontrolledServer();
      let firstRunsElsewhere = 0;
      other.register(
        defineTask('ctl_hold_first', () => {
          firstRunsElsewhere++;
        }),
        defineTask('ctl_hold_second', () => {
          ranOn.push('other worker');
        }),
      );
      await other.worker({ handleSignals: false }).start();
      try {
        await second.get(GET);
        expect(ranOn).toEqual(['other worker']);
        // The running task stays with the paused worker, its lease kept past the redelivery timeout.
        await observeFor(harness().ctx.redeliveryTimeoutMs * 2);
        expect(firstRunsElsewhere).toBe(0);
        expect((await first.state())?.state).toBe(TaskStatus.STARTED);
        expect(w.activeCount).toBe(1);
      } finally {
        // Also on failure: the worker's stop would wait for it.
        release.resolve();
      }
      await first.get(GET);
      expect(firstRunsElsewhere).toBe(0);
    },
    timeout,
  );

  it(
    'a worker of a paused queue starts paused: the pause survives restarts',
    async () => {
      const producer = await server();
      const worker = await server();
      let runs = 0;
      const work = defineTask('ctl_restart', () => ++runs);
      worker.register(work);
      await producer.pause(queueOf(producer));
      const w = worker.worker({ handleSignals: false });
      await w.start();
      expect(w.isPaused).toBe(true);
      const result = await producer.send(work.signature());
      await observeFor(500);
      expect(runs).toBe(0);
      await producer.resume(queueOf(producer));
      await result.get(GET);
      expect(runs).toBe(1);
    },
    timeout,
  );

  it(
    'a running worker is listed with what it runs, and leaves the list when it stops',
    async () => {
      const operator = await server();
      const worker = await server(100);
      const started = deferred();
      const release = deferred();
      const busy = defineTask('ctl_busy', async () => {
        started.resolve();
        await release.promise;
      });
      worker.register(busy);
      const w = worker.worker({ concurrency: 3, handleSignals: false });
      await w.start();
      const result = await operator.send(busy.signature());
      await started.promise;
      const mine = async () =>
        (await (operator.control as ControlPlane).workers.list()).filter((i) => i.queue === w.queue);
      await eventually(async () => {
        const [info] = await mine();
        expect(info).toMatchObject({ pid: process.pid, concurrency: 3, queue: w.queue, paused: false });
        expect(info?.tasks).toContain('ctl_busy');
        expect(info?.running).toEqual([result.taskUUID]);
      }, SOON);
      release.resolve();
      await result.get(GET);
      await eventually(async () => expect((await mine())[0]?.processed).toBe(1), SOON);
      await w.stop();
      expect(await mine()).toEqual([]);
    },
    timeout,
  );

  it(
    'a worker that stops beating (its process was killed) leaves the list after three missed heartbeats',
    async () => {
      const operator = await server();
      const worker = await server(100);
      const w = worker.worker({ handleSignals: false });
      await w.start();
      const mine = async () =>
        (await (operator.control as ControlPlane).workers.list()).filter((i) => i.queue === w.queue);
      expect(await mine()).toHaveLength(1);
      // Its connection to the control plane dies with it: no more heartbeats, no goodbye.
      await (worker.control as ControlPlane).close();
      await eventually(async () => expect(await mine()).toEqual([]), SOON);
    },
    timeout,
  );

  it(
    'task events from the producer and the worker reach a follower in another process, in order',
    async () => {
      const producer = await server();
      const worker = await server();
      const follower = await harness().make();
      const events: TaskEvent[] = [];
      await follower.events.subscribe((e) => events.push(e));
      const ok = defineTask('ctl_events', () => 1);
      worker.register(ok);
      await worker.worker({ handleSignals: false }).start();
      const result = await producer.send(ok.signature());
      await result.get(GET);
      const mine = (from: (e: TaskEvent) => boolean) =>
        events.filter((e) => e.taskUUID === result.taskUUID && from(e)).map((e) => e.type);
      // In order per publisher; the producer's `sent` and the worker's events may interleave.
      await eventually(() => {
        expect(mine((e) => e.workerId === undefined)).toEqual(['sent']);
        expect(mine((e) => e.workerId !== undefined)).toEqual(['received', 'started', 'succeeded']);
      }, SOON);
      const done = events.find((e) => e.taskUUID === result.taskUUID && e.type === 'succeeded');
      expect(done?.workerId).toMatch(/:\d+:/);
    },
    timeout,
  );

  it(
    'progress is stored throttled, keeping the last report, and readable from another process',
    async () => {
      const h = harness();
      const plane = await h.make();
      let writes = 0;
      // Counts the worker's writes to the store.
      const counting: ControlPlane = {
        revocations: plane.revocations,
        pauses: plane.pauses,
        workers: plane.workers,
        events: plane.events,
        progress: {
          set: (uuid, data, ttlMs) => {
            writes++;
            return plane.progress.set(uuid, data, ttlMs);
          },
          get: (uuid) => plane.progress.get(uuid),
        },
        close: () => plane.close(),
      };
      const { broker, backend } = await adapters(h.ctx);
      const worker = h.closer.add(
        new Server({
          broker,
          backend,
          control: counting,
          controlOptions: { progressIntervalMs: 60_000 },
          logger: silentLogger,
        }),
      );
      const producer = await server();
      const release = deferred();
      const chatty = defineTask('ctl_progress', async function () {
        for (let i = 1; i <= 200; i++) this.progress({ done: i });
        await release.promise;
      });
      worker.register(chatty);
      await worker.worker({ handleSignals: false }).start();
      const result = await producer.send(chatty.signature());
      // The first report is written at once; the 199 within the interval wait for its end.
      await eventually(async () => expect((await result.progress())?.data).toEqual({ done: 1 }), SOON);
      expect(writes).toBe(1);
      release.resolve();
      await result.get(GET);
      await worker.close();
      // Closing writes what was pending: the last report.
      expect((await result.progress())?.data).toEqual({ done: 200 });
      expect(writes).toBe(2);
    },
    timeout,
  );

  it(
    'revoking a schedule removes it in a process that runs it',
    async () => {
      const runner = await server();
      const operator = await server();
      const name = `${harness().ctx.namespace}-sched`;
      const handle = runner.schedule('@every 100ms', name, signature('ctl_tick'));
      expect(handle.nextRun()).not.toBeNull();
      await operator.revokeSchedule(name);
      await eventually(() => expect(handle.nextRun()).toBeNull(), SOON);
    },
    timeout,
  );

  it(
    'a schedule revoked before a process starts it never fires there',
    async () => {
      const operator = await server();
      const name = `${harness().ctx.namespace}-sched-late`;
      await operator.revokeSchedule(name);
      const runner = await server();
      let ticks = 0;
      runner.register(defineTask('ctl_late_tick', () => ++ticks));
      await runner.worker({ handleSignals: false }).start();
      const handle = runner.schedule('@every 100ms', name, signature('ctl_late_tick'));
      // Checked before each fire: the first due fire removes it instead of sending.
      await eventually(() => expect(handle.nextRun()).toBeNull(), SOON);
      await observeFor(300);
      expect(ticks).toBe(0);
    },
    timeout,
  );
}
