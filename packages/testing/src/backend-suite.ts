import {
  AsyncResult,
  argValue,
  type Backend,
  encodeTaskState,
  type Signature,
  signature,
  type TaskResult,
  TaskStatus,
  toResult,
} from '@machinery/core';
import { describe, expect, it } from 'vitest';
import type { AdapterContext } from './context.js';
import { type SuiteBaseOptions, useHarness } from './harness.js';
import { eventually, observeFor } from './helpers.js';

/** Options for {@link backendSuite}. */
export interface BackendSuiteOptions extends SuiteBaseOptions<Backend> {
  /**
   * Stores `json` (a TaskState in Go Machinery's JSON) under the state key of task `uuid`, bypassing the
   * backend: what another writer — a Go Machinery worker — does, with no notification of any kind. A
   * backend that pushes results and whose store other programs write to provides it; the suite then
   * checks that a waiting `get()` still sees such a state. Without it that test is skipped with that
   * reason.
   */
  writeRaw?: (ctx: AdapterContext, uuid: string, json: string) => Promise<void>;
}

function sig(name = 'add', extra: Partial<Signature> = {}): Signature {
  return signature(name, [1, 2], { headers: {}, ...extra });
}

/**
 * The result-backend conformance suite: state transitions, groups, the atomic chord trigger, purge,
 * push and expiry. Every backend runs it against its real server; it skips, with the reason shown,
 * only what the backend's `capabilities` say it lacks.
 */
export function backendSuite(options: BackendSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  describe(`${options.name}: backend conformance`, () => {
    const harness = useHarness(options);

    it(
      'has no state for a task never written',
      async () => {
        const backend = await harness().make();
        expect(await backend.getState(`task_${harness().ctx.namespace}_missing`)).toBeUndefined();
      },
      timeout,
    );

    it(
      'walks PENDING → RECEIVED → STARTED → SUCCESS keeping task name and creation time',
      async (t) => {
        const backend = await harness().make();
        t.skip(!backend.capabilities.durableReads, 'backend hands out each state once (no durable reads)');
        const s = sig();
        await backend.setStatePending(s);
        const pending = await backend.getState(s.uuid);
        expect(pending?.state).toBe(TaskStatus.PENDING);
        expect(pending?.taskName).toBe('add');
        await backend.setStateReceived(s);
        expect((await backend.getState(s.uuid))?.state).toBe(TaskStatus.RECEIVED);
        await backend.setStateStarted(s);
        expect((await backend.getState(s.uuid))?.state).toBe(TaskStatus.STARTED);
        await backend.setStateSuccess(s, [toResult(3)]);
        const done = await backend.getState(s.uuid);
        expect(done?.state).toBe(TaskStatus.SUCCESS);
        expect(done?.taskUUID).toBe(s.uuid);
        expect(done?.taskName).toBe('add');
        expect(done?.createdAt.getTime()).toBe(pending?.createdAt.getTime());
        expect(done?.results?.map((r) => argValue({ name: '', ...r }))).toEqual([3]);
      },
      timeout,
    );

    it(
      'stores PENDING for every signature of a bulk write, replacing an earlier state, in call order',
      async (t) => {
        const backend = await harness().make();
        t.skip(backend.setStatesPending === undefined, 'backend has no bulk setStatesPending');
        t.skip(!backend.capabilities.durableReads, 'backend hands out each state once (no durable reads)');
        // More than one script call's worth, with one task already past PENDING (a resend).
        const sigs = Array.from({ length: 250 }, (_, i) => sig(`bulk${i}`));
        const resent = sigs[7] as Signature;
        await backend.setStatePending(resent);
        const started = backend.setStateStarted(resent);
        await backend.setStatesPending?.(sigs);
        await started;
        const states = await Promise.all(sigs.map((s) => backend.getState(s.uuid)));
        expect(states.map((st) => st?.state)).toEqual(sigs.map(() => TaskStatus.PENDING));
        expect(states.map((st) => st?.taskName)).toEqual(sigs.map((s) => s.name));
        expect(states.map((st) => st?.taskUUID)).toEqual(sigs.map((s) => s.uuid));
        await backend.setStatesPending?.([]);
      },
      timeout,
    );

    it(
      'applies one task’s writes in call order even when they are not awaited one by one',
      async () => {
        const backend = await harness().make();
        // The Worker issues STARTED and then the outcome without waiting in between.
        for (let i = 0; i < 20; i++) {
          const s = sig();
          await backend.setStatePending(s);
          const ok = [
            backend.setStateReceived(s),
            backend.setStateStarted(s),
            backend.setStateSuccess(s, [toResult(i)]),
          ];
          const f = sig();
          await backend.setStatePending(f);
          const bad = [backend.setStateStarted(f), backend.setStateFailure(f, 'boom')];
          await Promise.all([...ok, ...bad]);
          expect((await backend.getState(s.uuid))?.state).toBe(TaskStatus.SUCCESS);
          expect((await backend.getState(f.uuid))?.state).toBe(TaskStatus.FAILURE);
        }
      },
      timeout,
    );

    it(
      'stores a failure with its error text',
      async () => {
        const backend = await harness().make();
        const s = sig();
        await backend.setStateFailure(s, 'Test error');
        const state = await backend.getState(s.uuid);
        expect(state?.state).toBe(TaskStatus.FAILURE);
        expect(state?.error).toBe('Test error');
      },
      timeout,
    );

    it(
      'stores RETRY with its reason',
      async () => {
        const backend = await harness().make();
        const s = sig();
        await backend.setStateRetry(s, 'will retry');
        const state = await backend.getState(s.uuid);
        expect(state?.state).toBe(TaskStatus.RETRY);
      },
      timeout,
    );

    it(
      'keeps results of every type exactly, including 64-bit integers and bytes',
      async () => {
        const backend = await harness().make();
        const s = sig();
        const values = [
          185135722552891243n,
          2n ** 63n,
          -5,
          0.25,
          'text <&>',
          true,
          [1, 2],
          ['a'],
          new Uint8Array([0, 255]),
        ];
        await backend.setStateSuccess(s, values.map(toResult));
        const state = await backend.getState(s.uuid);
        expect(state?.results?.map((r) => argValue({ name: '', ...r }))).toEqual(values);
      },
      timeout,
    );

    it(
      'stores an empty result list for a task that returns nothing',
      async () => {
        const backend = await harness().make();
        const s = sig();
        await backend.setStateSuccess(s, []);
        expect((await backend.getState(s.uuid))?.results).toEqual([]);
      },
      timeout,
    );

    it(
      'reports a group complete only when every member is SUCCESS or FAILURE, states in group order',
      async (t) => {
        const backend = await harness().make();
        t.skip(!backend.capabilities.durableReads, 'backend hands out each state once (no durable reads)');
        const ns = harness().ctx.namespace;
        const groupUUID = `group_${ns}`;
        const members = [
          sig('a', { groupUUID, groupTaskCount: 3 }),
          sig('b', { groupUUID, groupTaskCount: 3 }),
        ];
        members.push(sig('c', { groupUUID, groupTaskCount: 3 }));
        await backend.initGroup(
          groupUUID,
          members.map((m) => m.uuid),
        );
        for (const m of members) await backend.setStatePending(m);
        expect(await backend.groupCompleted(groupUUID, 3)).toBe(false);
        await backend.setStateStarted(members[0] as Signature);
        await backend.setStateSuccess(members[1] as Signature, [toResult(1)]);
        expect(await backend.groupCompleted(groupUUID, 3)).toBe(false);
        await backend.setStateSuccess(members[0] as Signature, [toResult(0)]);
        await backend.setStateFailure(members[2] as Signature, 'boom');
        expect(await backend.groupCompleted(groupUUID, 3)).toBe(true);
        const states = await backend.groupTaskStates(groupUUID, 3);
        expect(states.map((s) => s.taskUUID)).toEqual(members.map((m) => m.uuid));
        expect(states.map((s) => s.state)).toEqual([
          TaskStatus.SUCCESS,
          TaskStatus.SUCCESS,
          TaskStatus.FAILURE,
        ]);
        const meta = await backend.getGroupMeta(groupUUID);
        expect(meta?.taskUUIDs).toEqual(members.map((m) => m.uuid));
      },
      timeout,
    );

    it(
      'triggers a chord exactly once when many workers race',
      async () => {
        const h = harness();
        const a = await h.make();
        const b = await h.make();
        const groupUUID = `group_${h.ctx.namespace}_race`;
        await a.initGroup(groupUUID, ['task_x', 'task_y']);
        const attempts = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).triggerChord(groupUUID));
        const won = (await Promise.all(attempts)).filter(Boolean);
        expect(won).toHaveLength(1);
        expect(await a.triggerChord(groupUUID)).toBe(false);
        const meta = await a.getGroupMeta(groupUUID);
        if (meta) expect(meta.chordTriggered).toBe(true);
      },
      timeout,
    );

    it(
      'answers the chord winner again when it calls again (its redelivery), and nobody else',
      async () => {
        const h = harness();
        const a = await h.make();
        const b = await h.make();
        const groupUUID = `group_${h.ctx.namespace}_winner`;
        await a.initGroup(groupUUID, ['task_x', 'task_y']);
        const [x, y] = await Promise.all([
          a.triggerChord(groupUUID, 'task_x'),
          b.triggerChord(groupUUID, 'task_y'),
        ]);
        expect([x, y].filter(Boolean)).toHaveLength(1);
        const winner = x ? 'task_x' : 'task_y';
        const loser = x ? 'task_y' : 'task_x';
        const remembers = a.capabilities.rememberChordWinner === true;
        expect(await b.triggerChord(groupUUID, winner)).toBe(remembers);
        expect(await a.triggerChord(groupUUID, loser)).toBe(false);
        expect(await a.triggerChord(groupUUID)).toBe(false);
      },
      timeout,
    );

    it(
      'looks up a group it does not know as undefined',
      async () => {
        const backend = await harness().make();
        expect(await backend.getGroupMeta(`group_${harness().ctx.namespace}_unknown`)).toBeUndefined();
      },
      timeout,
    );

    it(
      'purges a state and a group',
      async () => {
        const backend = await harness().make();
        const s = sig();
        await backend.setStateSuccess(s, []);
        await backend.purgeState(s.uuid);
        expect(await backend.getState(s.uuid)).toBeUndefined();
        const groupUUID = `group_${harness().ctx.namespace}_purge`;
        await backend.initGroup(groupUUID, [s.uuid]);
        await backend.purgeGroupMeta(groupUUID);
        expect(await backend.getGroupMeta(groupUUID)).toBeUndefined();
      },
      timeout,
    );

    it(
      'pushes completion to a waiter instead of being polled',
      async (t) => {
        const h = harness();
        const backend = await h.make();
        t.skip(
          !backend.capabilities.pushResults || !backend.waitForState,
          'backend declares no pushed results',
        );
        const writer = await h.make();
        const s = sig();
        await writer.setStatePending(s);
        const controller = new AbortController();
        const waiting = backend.waitForState?.(s.uuid, controller.signal);
        await writer.setStateStarted(s);
        await writer.setStateSuccess(s, [toResult(42)]);
        const state = await waiting;
        expect(state?.state).toBe(TaskStatus.SUCCESS);
        const never = backend.waitForState?.(`${s.uuid}_never`, controller.signal);
        controller.abort(new Error('stop waiting'));
        await expect(never).rejects.toThrow('stop waiting');
      },
      timeout,
    );

    it(
      'get() resolves for a state another writer stored without notifying',
      async (t) => {
        const h = harness();
        const backend = await h.make();
        t.skip(
          !backend.capabilities.pushResults || !backend.waitForState,
          'backend declares no pushed results (get() polls)',
        );
        t.skip(!options.writeRaw, 'the harness gives no writeRaw()');
        const s = sig();
        const stored = (status: TaskStatus, results: TaskResult[] | null) =>
          encodeTaskState({
            taskUUID: s.uuid,
            taskName: s.name,
            state: status,
            results,
            error: '',
            createdAt: new Date(),
            ttl: 0,
          });
        await options.writeRaw?.(h.ctx, s.uuid, stored(TaskStatus.STARTED, null));
        let settled = false;
        const result = new AsyncResult<number>(s.uuid, s.name, backend);
        const got = result.get({ timeoutMs: 10_000 }).finally(() => {
          settled = true;
        });
        // Long enough for the waiter to have read the key (and seen it running) before the write.
        await observeFor(300);
        expect(settled).toBe(false);
        await options.writeRaw?.(h.ctx, s.uuid, stored(TaskStatus.SUCCESS, [toResult(42)]));
        expect(await got).toBe(42);
      },
      timeout,
    );

    it(
      'expires results after resultsExpireIn',
      async (t) => {
        const h = harness();
        const probe = await h.make();
        t.skip(!probe.capabilities.expiry, 'backend declares no expiry');
        const backend = await h.make({ resultsExpireIn: 1 });
        const s = sig();
        await backend.setStateSuccess(s, []);
        expect(await backend.getState(s.uuid)).toBeDefined();
        await eventually(async () => expect(await backend.getState(s.uuid)).toBeUndefined(), {
          timeoutMs: 5000,
          intervalMs: 200,
        });
      },
      timeout,
    );
  });
}
