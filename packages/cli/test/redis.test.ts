import { RedisBackend } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, group, Server, signature, silentLogger } from '@machinery/core';
import { rawClient } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { machinery, REDIS, uniqueQueue } from './machinery.js';

const env = { BROKER_URL: REDIS };
const redis = rawClient(REDIS);
const queues: string[] = [];

function queue(label: string): string {
  const q = uniqueQueue(label);
  queues.push(q);
  return q;
}

afterAll(async () => {
  // Only what these tests created: their queues, and their entries in the shared delayed set.
  for (const q of queues) await redis.del(q, `${q}:leases`, `${q}:inflight`, `${q}:consumers`);
  for (const member of await redis.zrange('delayed_tasks', '0', '-1')) {
    if (queues.some((q) => member.includes(q))) await redis.zrem('delayed_tasks', member);
  }
  redis.disconnect();
});

describe('machinery on Redis, end to end through the built binary', () => {
  it('send → status shows it pending → task shows PENDING with its args while no worker runs', async () => {
    const q = queue('send');
    const sent = await machinery(['send', 'add', '1', '2.5', 'hello', '{"a":1}', '--queue', q], env);
    expect(sent.code).toBe(0);
    const uuid = sent.stdout.trim();
    expect(uuid).toMatch(/^task_[0-9a-f-]{36}$/);

    const status = await machinery(['status', '--queue', q, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      broker: REDIS,
      backend: REDIS,
      control: REDIS,
      liveWorkers: expect.any(Number),
      limit: 1000,
      queues: [
        {
          queue: q,
          pending: { count: 1, complete: true },
          delayed: { count: 0, complete: true },
          deadLetters: { count: 0, complete: true },
          paused: false,
          workers: 0,
        },
      ],
      unavailable: {},
    });
    const table = await machinery(['status', '--queue', q], env);
    expect(table.stdout).toMatch(new RegExp(`^${q}\\s+1\\s+0\\s+0\\s+no\\s+0$`, 'm'));
    const without = await machinery(['status', '--queue', q, '--control', 'none'], env);
    expect(without.stdout).toMatch(new RegExp(`^${q}\\s+1\\s+0\\s+0\\s+—\\s+—$`, 'm'));
    expect(without.stdout).toContain('paused and workers: no control plane');

    const task = await machinery(['task', uuid, '--queue', q, '--json'], env);
    expect(task.code).toBe(0);
    const data = JSON.parse(task.stdout);
    expect(data).toMatchObject({
      kind: 'task',
      uuid,
      name: 'add',
      state: 'PENDING',
      argsFrom: 'pending',
      queue: q,
      eta: null,
      results: null,
      error: null,
      args: [
        { type: 'int64', value: 1 },
        { type: 'float64', value: 2.5 },
        { type: 'string', value: 'hello' },
        { type: 'json', value: { a: 1 } },
      ],
    });
    expect(Date.parse(data.createdAt)).not.toBeNaN();

    const human = await machinery(['task', uuid, '--queue', q], env);
    expect(human.stdout).toMatch(/^state: +PENDING$/m);
    expect(human.stdout).toMatch(/^args: +1, 2\.5, "hello", \{"a":1\}$/m);
    expect(human.stdout).toMatch(/^progress: +\(none reported\)$/m);
    expect(human.stdout).toMatch(/^revoked: +no$/m);

    const pending = await machinery(['pending', '--queue', q, '--json'], env);
    expect(JSON.parse(pending.stdout)).toMatchObject({
      queue: q,
      limit: 100,
      tasks: [{ uuid, name: 'add' }],
    });
    const pendingTable = await machinery(['pending', '--queue', q], env);
    expect(pendingTable.stdout).toMatch(
      new RegExp(`^${uuid}\\s+add\\s+1, 2.5, "hello", \\{"a":1\\}\\s+0$`, 'm'),
    );
  });

  it('send --eta lists the task under delayed, with typed args in command-line order', async () => {
    const q = queue('eta');
    const sent = await machinery(
      [
        'send',
        'resize',
        '--type',
        'uint32:640',
        'x',
        '--type',
        'int64:9007199254740993',
        '--eta',
        '+1h',
        '--queue',
        q,
      ],
      env,
    );
    expect(sent.code).toBe(0);
    const uuid = sent.stdout.trim();
    const delayed = await machinery(['delayed', '--queue', q, '--json'], env);
    expect(delayed.code).toBe(0);
    const data = JSON.parse(delayed.stdout);
    expect(data.tasks).toHaveLength(1);
    expect(data.tasks[0]).toMatchObject({
      uuid,
      name: 'resize',
      queue: q,
      // int64 beyond 2^53 keeps every digit (printed as a string in JSON).
      args: [
        { type: 'uint32', value: 640 },
        { type: 'string', value: 'x' },
        { type: 'int64', value: '9007199254740993' },
      ],
    });
    expect(Date.parse(data.tasks[0].eta) - Date.now()).toBeGreaterThan(50 * 60_000);
    const task = await machinery(['task', uuid, '--json'], env);
    expect(JSON.parse(task.stdout)).toMatchObject({ state: 'PENDING', argsFrom: 'delayed', queue: q });
    const status = await machinery(['status', '--queue', q, '--json'], env);
    expect(JSON.parse(status.stdout).queues[0].delayed).toEqual({ count: 1, complete: true });
  });

  it('a count that reaches --limit is shown as a lower bound', async () => {
    const q = queue('cap');
    for (let i = 0; i < 2; i++) expect((await machinery(['send', 'noop', '--queue', q], env)).code).toBe(0);
    const json = await machinery(['status', '--queue', q, '--limit', '1', '--json'], env);
    expect(JSON.parse(json.stdout).queues[0].pending).toEqual({ count: 1, complete: false });
    const human = await machinery(['status', '--queue', q, '--limit', '1'], env);
    expect(human.stdout).toMatch(new RegExp(`^${q}\\s+1\\+\\s`, 'm'));
    expect(human.stdout).toContain('1+ at least 1: counting stops at --limit 1');
  });

  it('a bad --type or --eta exits 2 without sending', async () => {
    const badType = await machinery(['send', 'x', '--type', 'uint8:300'], env);
    expect(badType.code).toBe(2);
    expect(badType.stderr.trim()).toBe('machinery: --type uint8:300: 300 is not uint8.');
    const badEta = await machinery(['send', 'x', '--eta', 'tomorrow'], env);
    expect(badEta.code).toBe(2);
    expect(badEta.stderr).toContain('--eta tomorrow is not a time');
  });

  it('an unknown UUID exits 3 with one line', async () => {
    const r = await machinery(['task', 'task_00000000-0000-4000-8000-000000000000'], env);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      `machinery: No task or group task_00000000-0000-4000-8000-000000000000 in the result backend ${REDIS}: it was never sent there, or its result expired or was purged.`,
    );
    const json = await machinery(['task', 'group_00000000-0000-4000-8000-000000000000', '--json'], env);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout).error.code).toBe('ERR_NOT_FOUND');
  });

  it('a group UUID shows its members', async () => {
    const q = queue('group');
    const server = new Server({
      broker: new RedisBroker({ url: REDIS }),
      backend: new RedisBackend({ url: REDIS }),
    });
    try {
      const g = group(
        signature('add', [1, 1], { routingKey: q }),
        signature('add', [2, 2], { routingKey: q }),
      );
      await server.sendGroup(g);
      const r = await machinery(['task', g.groupUUID, '--json'], env);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        kind: 'group',
        uuid: g.groupUUID,
        chordTriggered: false,
        counts: { PENDING: 2 },
        members: g.tasks.map((t) => ({ uuid: t.uuid, name: 'add', state: 'PENDING' })),
      });
      const human = await machinery(['task', g.groupUUID], env);
      expect(human.stdout).toContain('members: 2 (2 PENDING)');
    } finally {
      await server.close();
    }
  });

  it('send --wait prints the result (exit 0) or the error of a failed task (exit 1)', async () => {
    const q = queue('wait');
    const server = new Server({
      broker: new RedisBroker({ url: REDIS }),
      backend: new RedisBackend({ url: REDIS }),
    });
    server.register(
      defineTask('add', (a: number, b: number) => a + b),
      defineTask('boom', () => {
        throw new Error('oops');
      }),
    );
    const worker = server.worker({ queue: q, concurrency: 2 });
    await worker.start();
    try {
      const ok = await machinery(
        ['send', 'add', '2', '3', '--queue', q, '--wait', '--timeout', '15000'],
        env,
      );
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^uuid: +task_/m);
      expect(ok.stdout).toContain('state:  SUCCESS');
      expect(ok.stdout).toContain('result: 5');

      const json = await machinery(['send', 'add', '2', '3', '--queue', q, '--wait', '--json'], env);
      expect(JSON.parse(json.stdout).outcome).toEqual({
        state: 'SUCCESS',
        results: [{ type: 'int64', value: 5 }],
        error: null,
      });

      const failed = await machinery(['send', 'boom', '--queue', q, '--wait'], env);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(/^state: FAILURE$/m);
      expect(failed.stdout).toMatch(/^error: oops$/m);
    } finally {
      await worker.stop();
      await server.close();
    }
  });

  it('send --wait without a worker gives up after --timeout with exit 1', async () => {
    const q = queue('nowait');
    const r = await machinery(['send', 'add', '1', '--queue', q, '--wait', '--timeout', '300'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/did not finish within 300 ms: is a worker running that has "add" registered\?/);
  });

  it('an undecodable message is listed under dead-letters, counted by status, and requeue moves it back', async () => {
    const q = queue('dead');
    await redis.rpush(q, 'this is not a task');
    // A consuming broker dead-letters what does not decode; the CLI only reads and moves.
    const broker = new RedisBroker({ url: REDIS, logger: silentLogger });
    const consumer = await broker.consume(q, (d) => void d.ack(), { concurrency: 1, prefetch: 0 });
    try {
      await eventually(async () => expect(await redis.llen(q)).toBe(0), { timeoutMs: 10_000 });
      await eventually(async () => {
        const r = await machinery(['dead-letters', '--queue', q, '--json'], env);
        expect(JSON.parse(r.stdout).deadLetters).toHaveLength(1);
      });
    } finally {
      await consumer.stop();
      await broker.close();
    }

    const listed = await machinery(['dead-letters', '--queue', q, '--json'], env);
    expect(listed.code).toBe(0);
    const [letter] = JSON.parse(listed.stdout).deadLetters;
    expect(letter).toMatchObject({ queue: q, task: null, body: 'this is not a task' });
    expect(letter.reason).not.toBe('');
    expect(letter.decodeError).not.toBeNull();
    const table = await machinery(['dead-letters', '--queue', q], env);
    expect(table.stdout).toMatch(new RegExp(`\\s${q}\\s+\\(not a task\\)`));

    const status = await machinery(['status', '--json'], env);
    const row = JSON.parse(status.stdout).queues.find((r: { queue: string }) => r.queue === q);
    expect(row.deadLetters.count).toBe(1);

    const requeued = await machinery(['requeue', '--json'], env);
    expect(requeued.code).toBe(0);
    expect(JSON.parse(requeued.stdout).requeued).toBeGreaterThanOrEqual(1);
    expect(await redis.lrange(q, 0, -1)).toEqual(['this is not a task']);
    const after = await machinery(['dead-letters', '--queue', q], env);
    expect(after.stdout.trim()).toBe(`no dead letters from ${q}`);
    const again = await machinery(['requeue'], env);
    expect(again.stdout.trim()).toBe('no dead letters to requeue');
  });
});
