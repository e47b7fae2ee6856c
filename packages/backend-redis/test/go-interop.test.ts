import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeGroupMeta,
  encodeGroupMeta,
  encodeTaskState,
  signature,
  TaskStatus,
  toResult,
} from '@machinery/core';
import { deleteKeys, prefixOf, REDIS_URL, rawClient } from '@machinery/test-services';
import { Closer, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisBackend } from '../src/index.js';

// Go Machinery's result layout, checked at the level of Redis itself: `<UUID>` → TaskState JSON and
// `<groupUUID>` → GroupMeta JSON, read and written byte for byte as Go does.

const vectorsDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../core/test/vectors');
const vector = (name: string) => readFileSync(join(vectorsDir, name), 'utf8').trim();

const raw = rawClient(REDIS_URL);
const closer = new Closer();
let prefix = '';
afterEach(async () => {
  await closer.closeAll();
  await deleteKeys(raw, prefix);
});
afterAll(() => raw.disconnect());

function backend(): RedisBackend {
  prefix = prefixOf(uniqueNamespace());
  return closer.add(new RedisBackend({ url: REDIS_URL, prefix }));
}

describe('Go Machinery interop at the Redis level', () => {
  for (const file of ['state-pending.json', 'state-success.json', 'state-failure.json']) {
    it(`reads a state Go wrote (${file}) and encodes it back byte for byte`, async () => {
      const b = backend();
      const json = vector(file);
      const uuid = JSON.parse(json).TaskUUID as string;
      await raw.set(prefix + uuid, json, 'EX', 3600);
      const state = await b.getState(uuid);
      expect(state && encodeTaskState(state)).toBe(json);
    });
  }

  it('writes a state as Go does: SET … EX with the exact TaskState JSON', async () => {
    const b = backend();
    const sig = signature('add', [1, 2], { headers: {} });
    await b.setStatePending(sig);
    const pending = await b.getState(sig.uuid);
    await b.setStateSuccess(sig, [toResult(3)]);
    const json = await raw.get(prefix + sig.uuid);
    expect(json).toBe(
      encodeTaskState({
        taskUUID: sig.uuid,
        taskName: 'add',
        state: TaskStatus.SUCCESS,
        results: [{ type: 'int64', value: 3 }],
        error: '',
        createdAt: pending?.createdAt as Date,
        ttl: 0,
      }),
    );
    const ttl = await raw.ttl(prefix + sig.uuid);
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  it('keeps the CreatedAt (to the nanosecond) and TaskName of a state Go wrote', async () => {
    const b = backend();
    const json = vector('state-pending.json');
    const goState = JSON.parse(json) as { TaskUUID: string; CreatedAt: string; TaskName: string };
    await raw.set(prefix + goState.TaskUUID, json, 'EX', 3600);
    const sig = signature('', [], { uuid: goState.TaskUUID, headers: {} });
    await b.setStateStarted(sig);
    const after = JSON.parse((await raw.get(prefix + goState.TaskUUID)) as string);
    expect(after.State).toBe('STARTED');
    expect(after.CreatedAt).toBe(goState.CreatedAt);
    expect(after.TaskName).toBe(goState.TaskName);
  });

  it('reads Go’s GroupMeta, and triggering the chord sets ChordTriggered in it for Go readers', async () => {
    const b = backend();
    const json = vector('group-meta.json');
    const groupUUID = JSON.parse(json).GroupUUID as string;
    await raw.set(prefix + groupUUID, json, 'EX', 3600);
    const meta = await b.getGroupMeta(groupUUID);
    expect(meta && encodeGroupMeta(meta)).toBe(json);
    expect(await b.triggerChord(groupUUID)).toBe(true);
    expect(await b.triggerChord(groupUUID)).toBe(false);
    const stored = (await raw.get(prefix + groupUUID)) as string;
    expect(stored).toBe(json.replace('"ChordTriggered":false', '"ChordTriggered":true'));
    expect(decodeGroupMeta(stored).chordTriggered).toBe(true);
  });

  it('reads group member states with one MGET in group order, as Go stores them', async () => {
    const b = backend();
    const groupUUID = `group_${uniqueNamespace()}`;
    const uuids = ['task_a', 'task_b', 'task_c'];
    await raw.set(
      prefix + groupUUID,
      encodeGroupMeta({
        groupUUID,
        taskUUIDs: uuids,
        chordTriggered: false,
        lock: false,
        createdAt: new Date(),
        ttl: 0,
      }),
    );
    for (const [i, uuid] of uuids.entries()) {
      await raw.set(
        prefix + uuid,
        vector('state-success.json').replace(/"TaskUUID":"[^"]*"/, `"TaskUUID":"${uuid}"`),
      );
      expect(await b.groupCompleted(groupUUID, 3)).toBe(i === 2);
    }
    expect((await b.groupTaskStates(groupUUID, 3)).map((s) => s.taskUUID)).toEqual(uuids);
  });

  it('waits while a Go worker holds its global TriggerChordMutex, then triggers once', async () => {
    const b = backend();
    const groupUUID = `group_${uniqueNamespace()}`;
    await b.initGroup(groupUUID, ['task_x']);
    // What redsync does in a Go worker: SET TriggerChordMutex <random> NX PX <expiry>.
    await raw.set(`${prefix}TriggerChordMutex`, 'go-worker', 'PX', 300, 'NX');
    const triggered = b.triggerChord(groupUUID);
    expect(await raw.get(`${prefix}TriggerChordMutex`)).toBe('go-worker');
    expect(await triggered).toBe(true);
    expect(await b.triggerChord(groupUUID)).toBe(false);
  });
});
