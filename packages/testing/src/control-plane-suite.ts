import type { ControlPlane, Revocation, TaskEvent, WorkerInfo } from '@machinery/core';
import { describe, expect, it } from 'vitest';
import type { AdapterContext } from './context.js';
import { type ControlScenarioAdapters, controlScenarios } from './control-scenario-suite.js';
import { type SuiteBaseOptions, useHarness } from './harness.js';
import { eventually } from './helpers.js';

/** Options for {@link controlPlaneSuite}. */
export interface ControlPlaneSuiteOptions extends SuiteBaseOptions<ControlPlane> {
  /**
   * Builds a broker and backend for the end-to-end scenarios (revoke, pause, heartbeats, events,
   * progress through a real Server and Worker); without it only the store conformance runs.
   */
  adapters?: (ctx: AdapterContext) => ControlScenarioAdapters | Promise<ControlScenarioAdapters>;
}

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
 * `adapters`, also the end-to-end scenarios of `controlScenarioSuite` on this control plane.
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

    const adapters = options.adapters;
    if (adapters !== undefined) {
      describe('end to end', () => {
        controlScenarios({ adapters, testTimeoutMs: timeout }, harness);
      });
    }
  });
}
