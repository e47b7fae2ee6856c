import {
  type Backend,
  type Broker,
  type ControlPlane,
  chain,
  chord,
  defineTask,
  group,
  isMachineryError,
  type Revocation,
  Server,
  signature,
  silentLogger,
  type TaskEvent,
  TaskStatus,
  type WorkerInfo,
} from '@machinery/core';
import { describe, expect, it } from 'vitest';
import type { AdapterContext } from './context.js';
import { type SuiteBaseOptions, useHarness } from './harness.js';
import { deferred, eventually, observeFor } from './helpers.js';

/** The data plane a control scenario runs on; called once per server in a test, same namespace. */
export interface ControlScenarioAdapters {
  broker: Broker;
  backend: Backend;
}

/** Options for {@link controlPlaneSuite}. */
export interface ControlPlaneSuiteOptions extends SuiteBaseOptions<ControlPlane> {
  /**
   * Builds a broker and backend for the end-to-end scenarios (revoke, pause, heartbeats, events,
   * progress through a real Server and Worker); without it only the store conformance runs.
   */
  adapters?: (ctx: AdapterContext) => ControlScenarioAdapters | Promise<ControlScenarioAdapters>;
}

const GET = { timeoutMs: 20_000 };
const SOON = { timeoutMs: 10_000, intervalMs: 20 };

function workerInfo(id: string, overrides: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    id,
    host: 'host-a',
    pid: 4242,
    queue: 'q',
    concurrency: 4,
    running: ['task_1'],
    processed: 7,
    failed: 2,
    tasks: ['add', 'multiply'],
    version: '1.2.3',
    startedAt: 1_700_000_000_000,
    heartbeatAt: 1_700_000_005_000,
    paused: false,
    ...overrides,
  };
}

function event(type: TaskEvent['type'], n: number): TaskEvent {
  return { type, taskUUID: `task_${n}`, taskName: 'add', queue: 'q', at: 1_700_000_000_000 + n };
}

/**
 * The control plane conformance suite: revocations, paused queues, the worker registry, the task event
 * stream and stored progress, each seen from a second instance (a second connection); with
 * `adapters`, also the end-to-end guarantees through a Server and Worker — a revoked task never runs,
 * a running one is aborted, a revoked chord member does not trigger its callback, a paused queue is
 * not fetched, workers are listed, events and progress reach another process.
 */
export function controlPlaneSuite(options: ControlPlaneSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  describe(`${options.name}: control plane conformance`, () => {
    const harness = useHarness(options);
    const ns = (name: string) => `${harness().ctx.namespace}-${name}`;

    it(
      'a revocation is visible to another instance, looked up in batches in order',
      async () => {
        const a = await harness().make();
        const b = await harness().make();
        const [one, two, other] = [ns('t1'), ns('t2'), ns('t3')];
        expect(await b.revocations.revoked([one])).toEqual([undefined]);
        await a.revocations.revoke([one, two], { reason: 'operator said so' });
        const found = await b.revocations.revoked([other, two, one]);
        expect(found[0]).toBeUndefined();
        expect(found[1]).toMatchObject({ uuid: two, reason: 'operator said so' });
        expect(found[2]).toMatchObject({ uuid: one, reason: 'operator said so' });
        expect(typeof found[2]?.revokedAt).toBe('number');
        await a.revocations.revoke([other]);
        expect((await b.revocations.revoked([other]))[0]?.reason).toBe('revoked');
      },
      timeout,
    );

    it(
      'announces revocations to the listeners of another instance, and stops after unsubscribe',
      async () => {
        const a = await harness().make();
        const b = await harness().make();
        const seen: Revocation[] = [];
        const unsubscribe = await b.revocations.onRevoke((r) => seen.push(...r));
        await a.revocations.revoke([ns('x'), ns('y')]);
        await eventually(() => expect(seen.map((r) => r.uuid)).toEqual([ns('x'), ns('y')]), SOON);
        await unsubscribe();
        await a.revocations.revoke([ns('z')]);
        // A marker listener proves the announcement went out; the unsubscribed one must not see it.
        const marker: string[] = [];
        await b.revocations.onRevoke((r) => marker.push(...r.map((x) => x.uuid)));
        await a.revocations.revoke([ns('w')]);
        await eventually(() => expect(marker).toContain(ns('w')), SOON);
        expect(seen.map((r) => r.uuid)).toEqual([ns('x'), ns('y')]);
      },
      timeout,
    );

    it(
      'forgets a revocation after its time-to-live',
      async () => {
        const a = await harness().make();
        await a.revocations.revoke([ns('short')], { ttlMs: 300 });
        await a.revocations.revoke([ns('long')], { ttlMs: 60_000 });
        expect((await a.revocations.revoked([ns('short')]))[0]).toBeDefined();
        await eventually(
          async () => expect((await a.revocations.revoked([ns('short')]))[0]).toBeUndefined(),
          SOON,
        );
        expect((await a.revocations.revoked([ns('long')]))[0]).toBeDefined();
      },
      timeout,
    );

    it(
      'pauses and resumes a queue across instances and tells their listeners',
      async () => {
        const a = await harness().make();
        const b = await harness().make();
        const changes: [string, boolean][] = [];
        await b.pauses.onChange((queue, paused) => changes.push([queue, paused]));
        const queue = ns('queue');
        expect(await b.pauses.isPaused(queue)).toBe(false);
        await a.pauses.pause(queue);
        expect(await b.pauses.isPaused(queue)).toBe(true);
        expect(await b.pauses.paused()).toContain(queue);
        await a.pauses.resume(queue);
        expect(await b.pauses.isPaused(queue)).toBe(false);
        expect(await b.pauses.paused()).not.toContain(queue);
        await eventually(
          () =>
            expect(changes).toEqual([
              [queue, true],
              [queue, false],
            ]),
          SOON,
        );
      },
      timeout,
    );

    it(
      'lists live workers to another instance, removes one that stopped and forgets one that stopped beating',
      async () => {
        const a = await harness().make();
        const b = await harness().make();
        const [stays, leaves, dies] = [ns('w1'), ns('w2'), ns('w3')];
        await a.workers.heartbeat(workerInfo(stays), 60_000);
        await a.workers.heartbeat(workerInfo(leaves), 60_000);
        await a.workers.heartbeat(workerInfo(dies), 300);
        const ours = async () => (await b.workers.list()).filter((w) => w.id.startsWith(ns('')));
        expect((await ours()).map((w) => w.id)).toEqual([stays, leaves, dies]);
        expect((await ours())[0]).toEqual(workerInfo(stays));
        await a.workers.heartbeat(workerInfo(stays, { processed: 8, running: [] }), 60_000);
        expect((await ours())[0]).toEqual(workerInfo(stays, { processed: 8, running: [] }));
        await b.workers.remove(leaves);
        await eventually(async () => expect((await ours()).map((w) => w.id)).toEqual([stays]), SOON);
      },
      timeout,
    );

    it(
      'delivers events to a follower on another instance, in order',
      async () => {
        const a = await harness().make();
        const b = await harness().make();
        const seen: TaskEvent[] = [];
        await b.events.subscribe((e) => {
          if (e.queue === 'q' && e.taskName === 'add') seen.push(e);
        });
        const first = [event('sent', 1), event('received', 1), event('started', 1)];
        const second = [
          { ...event('failed', 1), error: 'boom', durationMs: 3, workerId: 'w' },
          { ...event('retried', 2), delayMs: 100, error: 'later' },
        ];
        await a.events.publish(first);
        await a.events.publish(second);
        await eventually(() => expect(seen).toEqual([...first, ...second]), SOON);
      },
      timeout,
    );

    it(
      'stores progress readable from another instance, replacing it, forgetting it after its time-to-live',
      async () => {
        const a = await harness().make();
        const b = await harness().make();
        expect(await b.progress.get(ns('p'))).toBeUndefined();
        await a.progress.set(ns('p'), { done: 1, of: 10 }, 60_000);
        await a.progress.set(ns('p'), { done: 2, of: 10 }, 60_000);
        expect((await b.progress.get(ns('p')))?.data).toEqual({ done: 2, of: 10 });
        expect(typeof (await b.progress.get(ns('p')))?.at).toBe('number');
        await a.progress.set(ns('short'), 0.5, 300);
        await eventually(async () => expect(await b.progress.get(ns('short'))).toBeUndefined(), SOON);
      },
      timeout,
    );

    if (options.adapters) scenarios(options, harness);
  });
}

function scenarios(
  options: ControlPlaneSuiteOptions,
  harness: ReturnType<typeof useHarness<ControlPlane>>,
): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  const adapters = options.adapters as NonNullable<ControlPlaneSuiteOptions['adapters']>;

  /** A server on its own control plane instance: two servers in one test are two processes. */
  async function server(heartbeatMs = 5000): Promise<Server> {
    const h = harness();
    const control = await h.make();
    const { broker, backend } = await adapters(h.ctx);
    return h.closer.add(
      new Server({ broker, backend, control, controlOptions: { heartbeatMs }, logger: silentLogger }),
    );
  }
  const queueOf = (s: Server) => s.broker.defaultQueue;

  describe('end to end', () => {
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
        const received: string[] = [];
        w.on('failed', ({ signature }) => received.push(signature.uuid));
        await w.start();
        const error = await result.get(GET).catch((e: unknown) => e);
        expect(isMachineryError(error, 'ERR_TASK_FAILED')).toBe(true);
        expect((error as Error).message).toMatch(/revoked: not wanted/);
        // The worker took the revoked delivery (it failed it) and then ran the next task.
        expect(await (await producer.send(marker.signature())).get(GET)).toBe('done');
        await eventually(() => expect(received).toContain(result.taskUUID), SOON);
        expect(runs).toBe(0);
      },
      timeout,
    );

    it(
      'a running task revoked from another process has its signal aborted and ends in FAILURE',
      async () => {
        const producer = await server();
        const worker = await server();
        const started = deferred();
        let abortedWith: unknown;
        const slow = defineTask('ctl_slow', function () {
          started.resolve();
          return new Promise((_, reject) => {
            this.signal.addEventListener('abort', () => {
              abortedWith = this.signal.reason;
              reject(this.signal.reason);
            });
          });
        });
        worker.register(slow);
        await worker.worker({ concurrency: 2, handleSignals: false }).start();
        const result = await producer.send(slow.signature());
        await started.promise;
        await producer.revoke(result.taskUUID);
        const state = await result.wait(GET);
        expect(state.state).toBe(TaskStatus.FAILURE);
        expect(state.error).toMatch(/was revoked/);
        expect(isMachineryError(abortedWith, 'ERR_TASK_ABORTED')).toBe(true);
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
        const failed: string[] = [];
        w.on('failed', ({ signature }) => failed.push(signature.uuid));
        await w.start();
        const result = await producer.send(later.signatureWith({ eta: new Date(Date.now() + 600) }));
        await producer.revoke(result.taskUUID);
        expect((await result.wait(GET)).error).toMatch(/revoked/);
        // Once due, the delivery reaches the worker, which fails it without running it.
        await eventually(() => expect(failed).toContain(result.taskUUID), SOON);
        expect(runs).toBe(0);
      },
      timeout,
    );

    it(
      'revoking a chord by its group UUID revokes its members, and the callback never runs',
      async () => {
        const producer = await server();
        const worker = await server();
        let callbackRuns = 0;
        const member = defineTask('ctl_member', (n: number) => n);
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
        expect((await result.callback.wait(GET)).state).toBe(TaskStatus.FAILURE);
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
        const stuck = defineTask('ctl_stuck', function () {
          started.resolve();
          return new Promise((_, reject) =>
            this.signal.addEventListener('abort', () => reject(this.signal.reason)),
          );
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
        expect((await result.callback.wait(GET)).state).toBe(TaskStatus.FAILURE);
        expect(callbackRuns).toBe(0);
      },
      timeout,
    );

    it(
      'a paused queue is not fetched while producers keep sending; resumed, its tasks run',
      async () => {
        const producer = await server();
        const worker = await server();
        let runs = 0;
        const work = defineTask('ctl_work', () => ++runs);
        worker.register(work);
        const w = worker.worker({ handleSignals: false });
        await w.start();
        await producer.pause(queueOf(producer));
        await eventually(() => expect(w.isPaused).toBe(true), SOON);
        const results = await producer.sendMany([work.signature(), work.signature(), work.signature()]);
        await observeFor(300);
        expect(runs).toBe(0);
        expect((await results[0]?.state())?.state).toBe(TaskStatus.PENDING);
        await producer.resume(queueOf(producer));
        for (const r of results) await r.get(GET);
        expect(runs).toBe(3);
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
        await observeFor(300);
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
      'a revoked chain stops: the link revoked while running fails and the next one never runs',
      async () => {
        const producer = await server();
        const worker = await server();
        const started = deferred();
        let nextRuns = 0;
        const first = defineTask('ctl_chain_first', function () {
          started.resolve();
          return new Promise((_, reject) =>
            this.signal.addEventListener('abort', () => reject(this.signal.reason)),
          );
        });
        const second = defineTask('ctl_chain_second', () => {
          nextRuns++;
        });
        worker.register(first, second);
        await worker.worker({ handleSignals: false }).start();
        const firstSig = first.signature();
        const result = await producer.sendChain(chain(firstSig, second.signature()));
        await started.promise;
        await producer.revoke(firstSig.uuid);
        const error = await result.get(GET).catch((e: unknown) => e);
        expect(isMachineryError(error, 'ERR_TASK_FAILED')).toBe(true);
        expect((error as Error).message).toMatch(/was revoked/);
        await observeFor(200);
        expect(nextRuns).toBe(0);
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
        const tick = defineTask('ctl_tick', () => 1);
        runner.register(tick);
        const name = `${harness().ctx.namespace}-sched`;
        const handle = runner.schedule('@every 100ms', name, signature('ctl_tick'));
        expect(handle.nextRun()).not.toBeNull();
        await operator.revokeSchedule(name);
        await eventually(() => expect(handle.nextRun()).toBeNull(), SOON);
      },
      timeout,
    );
  });
}
