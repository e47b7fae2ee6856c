import { connect } from 'node:net';
import {
  decodeGroupMeta,
  decodeTaskState,
  encodeTaskState,
  signature,
  TaskStatus,
  taskUUID,
  toResult,
} from '@machinery/core';
import { uniqueNamespace } from '@machinery/testing';
import memjs from 'memjs';
import { afterAll, describe, expect, it } from 'vitest';
import { MemcacheBackend } from '../src/index.js';
import { MEMCACHE_SERVERS } from './memcache.js';

// Go Machinery's keys have no prefix; each test uses fresh UUIDs and deletes what it wrote.
const raw = memjs.Client.create(MEMCACHE_SERVERS, { logger: { log() {} } });
const backends: MemcacheBackend[] = [];
function goLayout(options: { resultsExpireIn?: number; client?: memjs.Client } = {}): MemcacheBackend {
  const b = new MemcacheBackend({ servers: MEMCACHE_SERVERS, ...options });
  backends.push(b);
  return b;
}
afterAll(async () => {
  for (const b of backends) await b.close();
  raw.close();
});

async function rawGet(key: string): Promise<string | undefined> {
  const { value } = await raw.get(key);
  return value === null ? undefined : value.toString('utf8');
}

/** Remaining TTL of a key in seconds, from memcached's meta get (`mg <key> t`). */
function remainingTtl(key: string): Promise<number> {
  const [host, port] = (MEMCACHE_SERVERS.split(',')[0] as string).split(':');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port ?? 11211), host ?? '127.0.0.1', () => socket.write(`mg ${key} t\r\n`));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      if (text.endsWith('\r\n')) {
        socket.end();
        const m = /^HD t(-?\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
        else reject(new Error(`unexpected meta-get reply: ${text}`));
      }
    });
    socket.on('error', reject);
  });
}

describe('MemcacheBackend: Go Machinery layout', () => {
  it('stores TaskState JSON at the bare task UUID, as Go writes and reads it', async () => {
    const backend = goLayout();
    const sig = signature('add', [1, 1]);
    await backend.setStatePending(sig);
    await backend.setStateSuccess(sig, [toResult(2)]);
    const json = await rawGet(sig.uuid);
    expect(json).toBeDefined();
    const state = decodeTaskState(json as string);
    expect(json).toBe(encodeTaskState(state));
    expect(json).toMatch(
      new RegExp(
        `^\\{"TaskUUID":"${sig.uuid}","TaskName":"add","State":"SUCCESS","Results":\\[\\{"Type":"int64","Value":2\\}\\],"Error":"","CreatedAt":"[^"]+","TTL":0\\}$`,
      ),
    );
    await backend.purgeState(sig.uuid);
    expect(await rawGet(sig.uuid)).toBeUndefined();
  });

  it('reads states and group metadata written by Go (no TaskName, zero CreatedAt after PENDING)', async () => {
    const backend = goLayout();
    const uuid = taskUUID();
    // Go's Memcache backend stores a fresh TaskState on every update, losing name and creation time.
    const goJson = `{"TaskUUID":"${uuid}","TaskName":"","State":"SUCCESS","Results":[{"Type":"int64","Value":185135722552891243}],"Error":"","CreatedAt":"0001-01-01T00:00:00Z","TTL":0}`;
    await raw.set(uuid, goJson, { expires: 600 });
    const state = await backend.getState(uuid);
    expect(state?.state).toBe(TaskStatus.SUCCESS);
    expect(state?.results).toEqual([{ type: 'int64', value: 185135722552891243n }]);
    const groupUUID = `group_${uniqueNamespace()}`;
    await raw.set(
      groupUUID,
      `{"GroupUUID":"${groupUUID}","TaskUUIDs":["${uuid}"],"ChordTriggered":false,"Lock":false,"CreatedAt":"2025-06-01T10:00:00Z","TTL":0}`,
      { expires: 600 },
    );
    expect(await backend.groupCompleted(groupUUID, 1)).toBe(true);
    expect((await backend.groupTaskStates(groupUUID, 1)).map((s) => s.taskUUID)).toEqual([uuid]);
    await backend.purgeState(uuid);
    await backend.purgeGroupMeta(groupUUID);
  });

  it('writes an absolute expiry of now + resultsExpireIn, as Go does', async () => {
    const client = memjs.Client.create(MEMCACHE_SERVERS, { logger: { log() {} } });
    const sent: number[] = [];
    const set = client.set.bind(client);
    // Record what goes over the wire; the real client still does the work.
    // (memjs's promise form calls set again with a callback; pass every argument through.)
    client.set = ((...args: Parameters<typeof set>) => {
      if (typeof args[3] !== 'function') sent.push((args[2] as { expires?: number }).expires ?? 0);
      return set(...args);
    }) as typeof client.set;
    const backend = goLayout({ client, resultsExpireIn: 120 });
    const sig = signature('add');
    const before = Date.now() / 1000;
    await backend.setStatePending(sig);
    const after = Date.now() / 1000;
    // memcached reads expiries above 30 days as Unix times.
    expect(sent[0]).toBeGreaterThan(60 * 60 * 24 * 30);
    expect(sent[0]).toBeGreaterThanOrEqual(Math.floor(before + 120));
    expect(sent[0]).toBeLessThanOrEqual(Math.ceil(after + 120));
    const ttl = await remainingTtl(sig.uuid);
    // About 120 s (memcached's clock ticks in whole seconds and may lag by two), not 50 years.
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(125);
    await backend.purgeState(sig.uuid);
    await backend.close();
    // A client that was given is not closed by the backend.
    expect((await client.get(sig.uuid)).value).toBeNull();
    client.close();
  });

  it('marks ChordTriggered in the GroupMeta for Go readers, and respects one set by Go', async () => {
    const backend = goLayout();
    const groupUUID = `group_${uniqueNamespace()}`;
    await backend.initGroup(groupUUID, ['task_a']);
    expect(await backend.triggerChord(groupUUID)).toBe(true);
    const meta = decodeGroupMeta((await rawGet(groupUUID)) as string);
    expect(meta.chordTriggered).toBe(true);
    expect(await rawGet(`${groupUUID}_chord_triggered`)).toMatch(/^[0-9a-f-]{36}$/);
    await backend.purgeGroupMeta(groupUUID);
    expect(await rawGet(groupUUID)).toBeUndefined();
    expect(await rawGet(`${groupUUID}_chord_triggered`)).toBeUndefined();

    // A Go worker that fired the chord sets only the flag; we must not fire it again.
    const goGroup = `group_${uniqueNamespace()}`;
    await raw.set(
      goGroup,
      `{"GroupUUID":"${goGroup}","TaskUUIDs":["task_a"],"ChordTriggered":true,"Lock":false,"CreatedAt":"2025-06-01T10:00:00Z","TTL":0}`,
      { expires: 600 },
    );
    expect(await backend.triggerChord(goGroup)).toBe(false);
    await backend.purgeGroupMeta(goGroup);
  });

  it('picks the server of a key by CRC-32, as gomemcache does', async () => {
    const backend = new MemcacheBackend({ servers: '127.0.0.1:1,127.0.0.1:2,127.0.0.1:3' });
    // crc32("foo") = 0x8c736521; gomemcache: addrs[crc32 % len(addrs)].
    expect(Number(backend.client.getServer('foo'))).toBe(0x8c736521 % 3);
    expect(Number(backend.client.getServer('task_x'))).toBe(crc('task_x') % 3);
    await backend.close();
  });
});

/** Bitwise CRC-32 (IEEE), independent of zlib's, to check the backend's choice. */
function crc(text: string): number {
  let c = 0xffffffff;
  for (const byte of Buffer.from(text)) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
