import { describe, expect, it } from 'vitest';
import {
  findWaitingTask,
  inspectQueues,
  MemoryBackend,
  MemoryBroker,
  MemoryControlPlane,
  readTaskOrGroup,
  signature,
} from '../src/index.js';

describe('readTaskOrGroup', () => {
  it('tells a task, a group and an unknown UUID apart in one key space', async () => {
    const backend = new MemoryBackend();
    const a = signature('add', [1, 2]);
    const b = signature('add', [3, 4]);
    await backend.setStatePending(a);
    await backend.initGroup('group_g1', [a.uuid, b.uuid]);
    expect(await readTaskOrGroup(backend, a.uuid)).toMatchObject({
      kind: 'task',
      state: { taskUUID: a.uuid },
    });
    expect(await readTaskOrGroup(backend, 'group_g1')).toMatchObject({
      kind: 'group',
      meta: { taskUUIDs: [a.uuid, b.uuid] },
    });
    expect(await readTaskOrGroup(backend, 'task_unknown')).toBeUndefined();
    await backend.close();
  });
});

describe('findWaitingTask', () => {
  it('finds a task waiting in its queue or for its ETA, with its arguments', async () => {
    const broker = new MemoryBroker({ defaultQueue: 'q' });
    const now = signature('add', [1, 2]);
    const later = signature('add', [5], { eta: new Date(Date.now() + 3_600_000), routingKey: 'other' });
    await broker.publish(now);
    await broker.publish(later);
    expect(await findWaitingTask(broker, now.uuid)).toMatchObject({
      from: 'pending',
      queue: 'q',
      signature: { args: [{ value: 1 }, { value: 2 }] },
    });
    expect(await findWaitingTask(broker, later.uuid)).toMatchObject({ from: 'delayed', queue: 'other' });
    expect(await findWaitingTask(broker, 'task_nowhere')).toBeUndefined();
    await broker.close();
  });
});

describe('inspectQueues', () => {
  it('counts per queue, capped at the limit, with paused flags; lists the queues seen without a list', async () => {
    const broker = new MemoryBroker({ defaultQueue: 'q' });
    const control = new MemoryControlPlane();
    for (let i = 0; i < 3; i++) await broker.publish(signature('add', [i]));
    await broker.publish(
      signature('add', [9], { eta: new Date(Date.now() + 3_600_000), routingKey: 'later' }),
    );
    await control.pauses.pause('stopped');
    const all = await inspectQueues(broker, control, { limit: 2 });
    expect(all.queues.map((q) => q.queue)).toEqual(['q', 'later', 'stopped']);
    expect(all.queues[0]).toMatchObject({
      pending: { count: 2, complete: false },
      paused: false,
      workers: 0,
    });
    expect(all.queues[1]).toMatchObject({ delayed: { count: 1, complete: true } });
    expect(all.queues[2]).toMatchObject({ paused: true });
    expect(all.liveWorkers).toBe(0);
    const one = await inspectQueues(broker, undefined, { queues: ['later'] });
    expect(one.queues).toEqual([
      {
        queue: 'later',
        pending: { count: 0, complete: true },
        delayed: { count: 1, complete: true },
        deadLetters: expect.anything(),
        paused: null,
        workers: null,
      },
    ]);
    await broker.close();
    await control.close();
  });
});
