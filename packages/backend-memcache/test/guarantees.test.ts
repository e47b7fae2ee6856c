import { isMachineryError, signature, TaskStatus, toResult } from '@machinery/core';
import { TcpProxy } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MemcacheBackend } from '../src/index.js';
import { MEMCACHE_SERVERS, makeBackend } from './memcache.js';

const open: MemcacheBackend[] = [];
function backend(namespace: string): MemcacheBackend {
  const b = makeBackend({ namespace, redeliveryTimeoutMs: 1000 });
  open.push(b);
  return b;
}
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
  for (const p of proxies.splice(0)) await p.close();
});

/** A backend in namespace `ns` that reaches memcached through a proxy of its own. */
async function proxiedBackend(ns: string): Promise<{ b: MemcacheBackend; proxy: TcpProxy }> {
  const { proxy, url } = await TcpProxy.inFrontOf(`memcache://${MEMCACHE_SERVERS.split(',')[0]}`);
  proxies.push(proxy);
  const b = makeBackend({ namespace: ns, redeliveryTimeoutMs: 1000 }, { servers: new URL(url).host });
  open.push(b);
  return { b, proxy };
}

describe('MemcacheBackend guarantees', () => {
  it('fires a chord exactly once when ten connections race a hundred triggers', async () => {
    const ns = uniqueNamespace();
    const workers = Array.from({ length: 10 }, () => backend(ns));
    const groupUUID = `group_${ns}`;
    await (workers[0] as MemcacheBackend).initGroup(groupUUID, ['task_a', 'task_b']);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (workers[i % 10] as MemcacheBackend).triggerChord(groupUUID)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await (workers[3] as MemcacheBackend).getGroupMeta(groupUUID))?.chordTriggered).toBe(true);
  });

  it('a chord trigger whose reply was lost still wins when memjs sends it again', async () => {
    const ns = uniqueNamespace();
    const { b, proxy } = await proxiedBackend(ns);
    const other = backend(ns);
    await other.initGroup(`group_${ns}`, ['task_a', 'task_b']);
    // The replies start to vanish just as the guard's `add` goes out (the GroupMeta read before it
    // gets through): memcached stores the guard, memjs never hears so and sends the `add` again.
    let losing: Promise<void> | undefined;
    const add = b.client.add.bind(b.client);
    b.client.add = ((...args: Parameters<typeof add>) => {
      losing ??= proxy.loseReplies(200);
      return add(...args);
    }) as typeof add;
    const triggered = b.triggerChord(`group_${ns}`);
    await eventually(() => expect(losing).toBeDefined());
    await losing;

    expect(await triggered).toBe(true);
    expect(await other.triggerChord(`group_${ns}`)).toBe(false);
  });

  it('answers a request whose connection the server closes before replying (memjs alone would hang)', async () => {
    const { b, proxy } = await proxiedBackend(uniqueNamespace());
    expect(await b.getState('task_warm_up')).toBeUndefined(); // connected
    // The request goes out, its reply is lost, then the connection ends with a FIN — as when
    // memcached exits. memjs retries it on a new connection once the close fails it.
    const losing = proxy.loseReplies(100, 'close');
    const read = b.getState('task_x').then(
      () => 'answered',
      (err: unknown) => `failed: ${String(err)}`,
    );
    await losing;
    const outcome = await Promise.race([
      read,
      new Promise((r) => setTimeout(() => r('still waiting after 5 s'), 5000)),
    ]);
    expect(outcome).toBe('answered');
  });

  it('applies state writes of one task in call order, even when the caller does not await them', async () => {
    const b = backend(uniqueNamespace());
    for (let i = 0; i < 20; i++) {
      const s = signature('add', [i]);
      await b.setStatePending(s);
      const received = b.setStateReceived(s);
      const started = b.setStateStarted(s);
      await Promise.all([received, started]);
      expect((await b.getState(s.uuid))?.state).toBe(TaskStatus.STARTED);
      await b.setStateSuccess(s, []);
      expect((await b.getState(s.uuid))?.state).toBe(TaskStatus.SUCCESS);
    }
  });

  it('reads the states of a large group concurrently, in group order', async () => {
    const b = backend(uniqueNamespace());
    const groupUUID = `group_${uniqueNamespace()}`;
    const members = Array.from({ length: 600 }, (_, i) =>
      signature('add', [i], { groupUUID, groupTaskCount: 600 }),
    );
    await b.initGroup(
      groupUUID,
      members.map((m) => m.uuid),
    );
    await Promise.all(members.map((m, i) => b.setStateSuccess(m, [toResult(i)])));
    expect(await b.groupCompleted(groupUUID, 600)).toBe(true);
    const states = await b.groupTaskStates(groupUUID, 600);
    expect(states.map((s) => s.taskUUID)).toEqual(members.map((m) => m.uuid));
    expect(states.every((s) => s.state === TaskStatus.SUCCESS)).toBe(true);
  });

  it('reports a group it does not know as ERR_NOT_FOUND when asked for completion', async () => {
    const b = backend(uniqueNamespace());
    const err = await b.groupCompleted('group_missing', 1).catch((e: unknown) => e);
    expect(isMachineryError(err, 'ERR_NOT_FOUND')).toBe(true);
    const trigger = await b.triggerChord('group_missing').catch((e: unknown) => e);
    expect(isMachineryError(trigger, 'ERR_NOT_FOUND')).toBe(true);
  });

  it('fails with ERR_CONNECTION naming the servers but never the password when memcached is down', async () => {
    const b = new MemcacheBackend({
      servers: 'machinery:s3cret@127.0.0.1:1',
      clientOptions: { retries: 1, timeout: 0.2 },
    });
    open.push(b);
    const err = await b.getState('task_x').catch((e: unknown) => e);
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect((err as Error).message).toContain('127.0.0.1:1');
    expect((err as Error).message).not.toContain('s3cret');
  });

  it('refuses work after close(), which is idempotent', async () => {
    const b = backend(uniqueNamespace());
    await b.setStatePending(signature('add'));
    await b.close();
    await b.close();
    const err = await b.getState('task_x').catch((e: unknown) => e);
    expect(isMachineryError(err, 'ERR_CLOSED')).toBe(true);
  });

  it('refuses a nonsensical resultsExpireIn', () => {
    expect(() => new MemcacheBackend({ resultsExpireIn: 0 })).toThrow(/resultsExpireIn/);
  });
});
