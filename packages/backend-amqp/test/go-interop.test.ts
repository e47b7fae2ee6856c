// Interop with Go Machinery's AMQP result backend (v2/backends/amqp/amqp.go): states and group copies
// written and read exactly as Go does, at the AMQP level.
import { readFileSync } from 'node:fs';
import {
  decodeTaskState,
  encodeTaskState,
  signature,
  silentLogger,
  TaskStatus,
  toResult,
} from '@machinery/core';
import { AMQP_URL, adminConnection, closeAdmin, deleteQueues } from '@machinery/test-services';
import { uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBackend } from '../src/index.js';

const TTL_MS = 3_600_000;
// Go declares a result queue with these exact arguments (32-bit integers).
const GO_QUEUE = {
  durable: false,
  autoDelete: true,
  exclusive: false,
  arguments: { 'x-message-ttl': { '!': 'int', value: TTL_MS }, 'x-expires': { '!': 'int', value: TTL_MS } },
};

const vector = (name: string) =>
  readFileSync(new URL(`../../core/test/vectors/${name}`, import.meta.url), 'utf8').trim();

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(closeAdmin);

function setup() {
  const ns = uniqueNamespace('mtgob');
  const backend = new AmqpBackend({ url: AMQP_URL, connectionName: `${ns}-backend`, logger: silentLogger });
  const queues: string[] = [];
  const exchange = `${ns}_exchange`;
  cleanups.push(async () => {
    await backend.close();
    await deleteQueues(queues);
    const ch = await (await adminConnection()).createChannel();
    await ch.deleteExchange(exchange);
    await ch.close();
  });
  return { ns, backend, queues, exchange };
}

/** Go's updateState / markTaskCompleted: declare, bind, publish persistent JSON through the exchange. */
async function goWrite(exchange: string, queue: string, json: string): Promise<void> {
  const ch = await (await adminConnection()).createConfirmChannel();
  try {
    await ch.assertExchange(exchange, 'direct', { durable: true, autoDelete: false, internal: false });
    await ch.assertQueue(queue, GO_QUEUE);
    await ch.bindQueue(queue, exchange, queue);
    ch.publish(exchange, queue, Buffer.from(json), { contentType: 'application/json', deliveryMode: 2 });
    await ch.waitForConfirms();
  } finally {
    await ch.close();
  }
}

/** Go's GetState: declare the queue with Go's arguments, basic.get one message and ack it. */
async function goRead(queue: string) {
  const ch = await (await adminConnection()).createChannel();
  try {
    await ch.assertQueue(queue, GO_QUEUE);
    const m = await ch.get(queue, { noAck: false });
    if (m === false) return undefined;
    ch.ack(m);
    return m;
  } finally {
    await ch.close();
  }
}

it('reads the newest of the states a Go worker wrote to the <taskUUID> queue', async () => {
  const { ns, backend, queues, exchange } = setup();
  const uuid = `task_${ns}_go`;
  queues.push(uuid);
  const at = '2025-06-01T10:00:00.123456789Z';
  await goWrite(exchange, uuid, vector('state-pending.json').replaceAll(/task_[0-9a-f-]+/g, uuid));
  await goWrite(exchange, uuid, vector('state-success.json').replaceAll(/task_[0-9a-f-]+/g, uuid));
  const state = await backend.getState(uuid);
  expect(state?.state).toBe(TaskStatus.SUCCESS);
  expect(state?.results).toEqual([{ type: 'int64', value: 2 }]);
  expect(encodeTaskState(state as NonNullable<typeof state>)).toContain(`"CreatedAt":"${at}"`);
  // Reading does not consume: it is there for the next reader (Go's GetState would have taken it).
  expect((await backend.getState(uuid))?.state).toBe(TaskStatus.SUCCESS);
});

it('writes states a Go reader gets, in a queue declared exactly as Go declares it', async () => {
  const { backend } = setup();
  const sig = signature('add', [1, 1], { headers: {} });
  cleanups.push(() => deleteQueues([sig.uuid]));
  await backend.setStatePending(sig);
  await backend.setStateSuccess(sig, [toResult(2)]);
  const m = await goRead(sig.uuid);
  expect(m?.properties.contentType).toBe('application/json');
  expect(m?.properties.deliveryMode).toBe(2);
  const state = decodeTaskState(m?.content.toString('utf8') ?? '');
  expect(state.state).toBe(TaskStatus.SUCCESS);
  expect(state.taskName).toBe('add');
  // Superseded states are gone: Go's reader gets the newest at once, then nothing.
  expect(await goRead(sig.uuid)).toBeUndefined();
});

it('copies group members’ final states to the <groupUUID> queue Go counts, and marks the chord for Go', async () => {
  const { ns, backend, queues } = setup();
  const groupUUID = `group_${ns}`;
  const members = ['a', 'b', 'c'].map((n) => signature(n, [], { headers: {}, groupUUID, groupTaskCount: 3 }));
  queues.push(
    groupUUID,
    `${groupUUID}_meta`,
    `${groupUUID}_chord_triggered`,
    `${groupUUID}_chord_guard`,
    ...members.map((m) => m.uuid),
  );
  await backend.initGroup(
    groupUUID,
    members.map((m) => m.uuid),
  );
  for (const m of members) await backend.setStateSuccess(m, [toResult(1)]);
  // A redelivered duplicate does not count twice.
  await backend.setStateSuccess(members[0] as (typeof members)[number], [toResult(1)]);
  const ch = await (await adminConnection()).createChannel();
  try {
    // Go's GroupCompleted: inspect the group queue, complete when messages == GroupTaskCount.
    expect((await ch.checkQueue(groupUUID)).messageCount).toBe(3);
    expect(await backend.triggerChord(groupUUID)).toBe(true);
    // Go's TriggerChord returns false once <groupUUID>_chord_triggered exists.
    await ch.checkQueue(`${groupUUID}_chord_triggered`);
  } finally {
    await ch.close().catch(() => {});
  }
});

it('copies a member already final without its group copy (revoked while waiting) once, when stored with its group', async () => {
  const { ns, backend, queues } = setup();
  const groupUUID = `group_${ns}`;
  const [a, b] = ['a', 'b'].map((n) => signature(n, [], { headers: {}, groupUUID, groupTaskCount: 2 }));
  if (a === undefined || b === undefined) throw new Error('two members');
  queues.push(groupUUID, `${groupUUID}_meta`, a.uuid, b.uuid);
  await backend.initGroup(groupUUID, [a.uuid, b.uuid]);
  // A revoker knows only the UUID: its FAILURE carries no group, so nothing is copied yet.
  await backend.setStateFailure(signature('a', [], { uuid: a.uuid }), 'revoked');
  await backend.setStateSuccess(b, [toResult(1)]);
  expect(await backend.groupCompleted(groupUUID, 2)).toBe(false);
  // The worker that refuses the revoked task stores the outcome with its group: now it counts.
  await backend.setStateFailure(a, 'revoked');
  expect(await backend.groupCompleted(groupUUID, 2)).toBe(true);
  // Stored once more (a duplicate), it does not count twice.
  await backend.setStateFailure(a, 'revoked');
  const ch = await (await adminConnection()).createChannel();
  try {
    expect((await ch.checkQueue(groupUUID)).messageCount).toBe(2);
  } finally {
    await ch.close().catch(() => {});
  }
});

it('completes a group Go ran (no metadata), with its states in completion order', async () => {
  const { ns, backend, queues, exchange } = setup();
  const groupUUID = `group_${ns}_go`;
  const uuids = ['x', 'y'].map((n) => `task_${ns}_${n}`);
  queues.push(groupUUID, `${groupUUID}_meta`, ...uuids);
  for (const [i, uuid] of [uuids[1], uuids[0]].entries()) {
    const json = vector('state-success.json')
      .replaceAll(/task_[0-9a-f-]+/g, uuid as string)
      .replace('"Value":2', `"Value":${i}`);
    await goWrite(exchange, uuid as string, json);
    await goWrite(exchange, groupUUID, json);
  }
  expect(await backend.groupCompleted(groupUUID, 2)).toBe(true);
  const states = await backend.groupTaskStates(groupUUID, 2);
  expect(states.map((s) => s.taskUUID)).toEqual([uuids[1], uuids[0]]);
  expect(await backend.getGroupMeta(groupUUID)).toBeUndefined();
});

// Chords in a mixed fleet. Go's worker, after a member completes: GroupCompleted (the group queue
// holds exactly GroupTaskCount messages) → TriggerChord (true while <group>_chord_triggered does not
// exist) → GroupTaskStates (the count again, then an exclusive consumer acks GroupTaskCount copies)
// → sends the callback; and, whenever it saw the group complete, deletes <group> and
// <group>_chord_triggered on its way out (PurgeGroupMeta).

/** A completed two-member group whose copies sit in the group queue, as both sides write them. */
async function completedGroup() {
  const t = setup();
  const groupUUID = `group_${t.ns}_chord`;
  const members = ['a', 'b'].map((n) => signature(n, [], { headers: {}, groupUUID, groupTaskCount: 2 }));
  t.queues.push(
    groupUUID,
    `${groupUUID}_meta`,
    `${groupUUID}_chord_triggered`,
    `${groupUUID}_chord_guard`,
    ...members.map((m) => m.uuid),
  );
  await t.backend.initGroup(
    groupUUID,
    members.map((m) => m.uuid),
  );
  for (const m of members) await t.backend.setStateSuccess(m, [toResult(1)]);
  expect(await t.backend.groupCompleted(groupUUID, 2)).toBe(true);
  return { ...t, groupUUID, members };
}

/** Go's TriggerChord: true while <group>_chord_triggered does not exist. */
async function goTriggerChord(groupUUID: string): Promise<boolean> {
  const ch = await (await adminConnection()).createChannel();
  ch.on('error', () => {});
  try {
    await ch.checkQueue(`${groupUUID}_chord_triggered`);
    return false;
  } catch {
    return true;
  } finally {
    await ch.close().catch(() => {});
  }
}

/** Go's count check (GroupCompleted, and again in GroupTaskStates). */
async function goCount(groupUUID: string): Promise<number> {
  const ch = await (await adminConnection()).createChannel();
  try {
    return (await ch.checkQueue(groupUUID)).messageCount;
  } finally {
    await ch.close();
  }
}

it('a Go worker that passed TriggerChord just before our trigger fails its count check: the winner holds the copies', async () => {
  const { backend, groupUUID, members } = await completedGroup();
  expect(await goTriggerChord(groupUUID)).toBe(true); // Go got there first…
  expect(await backend.triggerChord(groupUUID)).toBe(true); // …we win our guard…
  expect(await goCount(groupUUID)).toBe(0); // …and Go's GroupTaskStates finds "Already consumed".
  expect(await goTriggerChord(groupUUID)).toBe(false); // Later Go workers stand back at once.
  // The winner still reads every member (the Worker sends the callback with them).
  const states = await backend.groupTaskStates(groupUUID, 2);
  expect(states.map((s) => s.taskUUID)).toEqual(members.map((m) => m.uuid));
});

it('stands back when a Go worker is already consuming the copies to fire the chord', async () => {
  const { backend, groupUUID } = await completedGroup();
  const ch = await (await adminConnection()).createChannel();
  cleanups.push(() => ch.close().catch(() => {}));
  await ch.prefetch(10);
  // Go's GroupTaskStates: an exclusive consumer, copies acknowledged one by one (here: held).
  await ch.consume(groupUUID, () => {}, { noAck: false, exclusive: true });
  expect(await backend.triggerChord(groupUUID)).toBe(false);
});

it('stands back when a Go worker has consumed the copies', async () => {
  const { backend, groupUUID } = await completedGroup();
  const ch = await (await adminConnection()).createChannel();
  try {
    for (let i = 0; i < 2; i++) expect(await ch.get(groupUUID, { noAck: true })).not.toBe(false);
  } finally {
    await ch.close();
  }
  expect(await backend.triggerChord(groupUUID)).toBe(false);
});

it('fires when a Go worker that stood back purged the group, and the guard survives such a purge', async () => {
  const { backend, groupUUID } = await completedGroup();
  const goPurge = async () => {
    const ch = await (await adminConnection()).createChannel();
    try {
      await ch.deleteQueue(`${groupUUID}_chord_triggered`);
      await ch.deleteQueue(groupUUID);
    } finally {
      await ch.close();
    }
  };
  await goPurge();
  expect(await backend.triggerChord(groupUUID)).toBe(true);
  // Go deletes <group>_chord_triggered, not our guard: no second winner.
  await goPurge();
  expect(await backend.triggerChord(groupUUID)).toBe(false);
});
