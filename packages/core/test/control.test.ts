import { describe, expect, it } from 'vitest';
import { ProgressWriter } from '../src/control/progress-writer.js';
import { revokeTasks } from '../src/control/revoke.js';
import { TaskEventBuffer } from '../src/control/task-event-buffer.js';
import type { TaskEvent, TaskEventStream } from '../src/control/task-events.js';
import {
  type ControlPlane,
  MemoryBackend,
  MemoryBroker,
  MemoryControlPlane,
  Server,
  signature,
  TaskStatus,
} from '../src/index.js';

const event = (n: number): TaskEvent => ({
  type: 'sent',
  taskUUID: `task_${n}`,
  taskName: 't',
  queue: 'q',
  at: n,
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('task event buffer', () => {
  it('batches per tick, drops and counts beyond its bound while the stream is slow, never blocks the caller', async () => {
    const batches: TaskEvent[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const stream: TaskEventStream = {
      publish: async (events) => {
        batches.push([...events]);
        await gate;
      },
      subscribe: async () => async () => {},
    };
    const buffer = new TaskEventBuffer(stream, 3, () => {});
    for (let i = 1; i <= 5; i++) buffer.push(event(i));
    expect(buffer.dropped).toBe(2);
    await until(() => batches.length === 1);
    // While the first batch is being published, the next events wait in the buffer.
    for (let i = 6; i <= 9; i++) buffer.push(event(i));
    expect(buffer.dropped).toBe(3);
    release();
    await buffer.drain();
    expect(batches.map((b) => b.map((e) => e.at))).toEqual([
      [1, 2, 3],
      [6, 7, 8],
    ]);
  });

  it('counts the events of a failed publish as dropped and reports the error', async () => {
    const errors: unknown[] = [];
    const stream: TaskEventStream = {
      publish: async () => {
        throw new Error('stream down');
      },
      subscribe: async () => async () => {},
    };
    const buffer = new TaskEventBuffer(stream, 100, (err) => errors.push(err));
    buffer.push(event(1));
    buffer.push(event(2));
    await until(() => errors.length === 1);
    await buffer.drain();
    expect(buffer.dropped).toBe(2);
  });
});

describe('progress writer', () => {
  it('writes the first report at once and then at most one per interval, keeping the last', async () => {
    const plane = new MemoryControlPlane();
    const writes: unknown[] = [];
    const writer = new ProgressWriter(
      {
        set: async (uuid, data, ttlMs) => {
          writes.push(data);
          await plane.progress.set(uuid, data, ttlMs);
        },
        get: (uuid) => plane.progress.get(uuid),
      },
      50,
      60_000,
      () => {},
    );
    for (let i = 1; i <= 100; i++) writer.report('task_a', i);
    expect(writes).toEqual([1]);
    await until(() => writes.length === 2);
    expect(writes).toEqual([1, 100]);
    expect((await plane.progress.get('task_a'))?.data).toBe(100);
    writer.report('task_a', 101);
    await writer.close();
    expect(writes.at(-1)).toBe(101);
  });
});

describe('revokeTasks', () => {
  it('marks a waiting task FAILURE at once on a backend where task states and group metadata share keys', async () => {
    const backend = new MemoryBackend();
    const control = new MemoryControlPlane();
    const waiting = signature('t');
    const members = [signature('m'), signature('m')];
    await backend.setStatePending(waiting);
    await backend.initGroup(
      'group_g',
      members.map((m) => m.uuid),
    );
    for (const m of members) await backend.setStatePending(m);
    const revoked = await revokeTasks({ control, backend }, [waiting.uuid, 'group_g'], { reason: 'no' });
    expect(revoked).toEqual(expect.arrayContaining([waiting.uuid, ...members.map((m) => m.uuid)]));
    for (const uuid of [waiting.uuid, ...members.map((m) => m.uuid)]) {
      const state = await backend.getState(uuid);
      expect(state?.state).toBe(TaskStatus.FAILURE);
      expect(state?.error).toMatch(/was revoked: no/);
    }
    // The group's metadata is left as it was.
    expect((await backend.getGroupMeta('group_g'))?.taskUUIDs).toEqual(members.map((m) => m.uuid));
    await control.close();
    await backend.close();
  });
});

describe('worker control', () => {
  it('does not list a stopped worker again when a pause reaches it after it stopped', async () => {
    const plane = new MemoryControlPlane();
    let announce: ((queue: string, paused: boolean) => void) | undefined;
    // The same plane, keeping the worker's pause listener so that a late announcement can be replayed.
    const control: ControlPlane = {
      revocations: plane.revocations,
      workers: plane.workers,
      events: plane.events,
      progress: plane.progress,
      pauses: {
        pause: (queue) => plane.pauses.pause(queue),
        resume: (queue) => plane.pauses.resume(queue),
        isPaused: (queue) => plane.pauses.isPaused(queue),
        paused: () => plane.pauses.paused(),
        onChange: (listener) => {
          announce = listener;
          return plane.pauses.onChange(listener);
        },
      },
      close: () => plane.close(),
    };
    const server = new Server({ broker: new MemoryBroker(), backend: new MemoryBackend(), control });
    const worker = server.worker({ handleSignals: false });
    await worker.start();
    expect(await plane.workers.list()).toHaveLength(1);
    await worker.stop();
    expect(await plane.workers.list()).toEqual([]);
    announce?.(worker.queue, true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await plane.workers.list()).toEqual([]);
    await server.close();
  });
});
