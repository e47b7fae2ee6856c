import { RedisBroker } from '@machinery/broker-redis';
import { type Delivery, signature, silentLogger } from '@machinery/core';
import { rawClient } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { MEMCACHE, machinery, REDIS, SQS, uniqueQueue } from './machinery.js';

const env = { BROKER_URL: REDIS };
const redis = rawClient(REDIS);
const queues: string[] = [];

afterAll(async () => {
  for (const q of queues) await redis.del(q, `${q}:leases`, `${q}:inflight`, `${q}:consumers`);
  for (const member of await redis.zrange('delayed_tasks', '0', '-1')) {
    if (queues.some((q) => member.includes(q))) await redis.zrem('delayed_tasks', member);
  }
  for (const entry of await redis.lrange('machinery:dead_letters', 0, -1)) {
    if (queues.some((q) => entry.includes(q))) await redis.lrem('machinery:dead_letters', 0, entry);
  }
  redis.disconnect();
});

/** A queue with 2 pending tasks, 1 delayed task and 1 dead letter, and a second queue with 1 pending task. */
async function fill(label: string): Promise<{ q: string; other: string; broker: RedisBroker }> {
  const q = uniqueQueue(label);
  const other = uniqueQueue(`${label}_other`);
  queues.push(q, other);
  const broker = new RedisBroker({ url: REDIS, logger: silentLogger });
  const got: Delivery[] = [];
  const consumer = await broker.consume(q, (d) => got.push(d), { concurrency: 1, prefetch: 0 });
  await broker.publish(signature('poison', [], { routingKey: q }));
  await eventually(() => expect(got).toHaveLength(1));
  await consumer.stop();
  await got[0]?.nack({ requeue: false, reason: 'cli purge test' });
  await broker.publishMany([
    signature('a', [], { routingKey: q }),
    signature('b', [], { routingKey: q }),
    signature('later', [], { routingKey: q, eta: new Date(Date.now() + 3600_000) }),
    signature('elsewhere', [], { routingKey: other }),
  ]);
  return { q, other, broker };
}

describe('machinery purge on Redis, through the built binary', () => {
  it('without --yes shows what would go, with counts, removes nothing and exits 2', async () => {
    const { q, broker } = await fill('preview');
    try {
      const r = await machinery(['purge', '--queue', q], env);
      expect(r.code).toBe(2);
      expect(r.stdout).toContain(`would remove from ${q} (${REDIS}):`);
      expect(r.stdout).toMatch(/^ {2}pending:\s+2$/m);
      expect(r.stdout).toMatch(/^ {2}delayed:\s+1$/m);
      expect(r.stdout).toMatch(/^ {2}dead letters:\s+1$/m);
      expect(r.stdout).toContain('nothing was removed: run again with --yes to purge');

      const json = await machinery(['purge', '--queue', q, '--pending', '--json'], env);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({
        dryRun: true,
        broker: REDIS,
        queue: q,
        parts: ['pending'],
        wouldRemove: { pending: { count: 2, complete: true } },
        skipped: [],
      });
      expect(await broker.pendingTasks(q)).toHaveLength(2);
    } finally {
      await broker.close();
    }
  });

  it('--yes removes the pending, delayed and dead-letter tasks of that queue only and reports counts', async () => {
    const { q, other, broker } = await fill('all');
    try {
      const r = await machinery(['purge', '--queue', q, '--yes', '--json'], env);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({
        dryRun: false,
        broker: REDIS,
        queue: q,
        parts: ['pending', 'delayed', 'deadLetters'],
        removed: { pending: 2, delayed: 1, deadLetters: 1 },
        skipped: [],
      });
      expect(await broker.pendingTasks(q)).toHaveLength(0);
      expect((await broker.delayedTasks()).filter((s) => s.routingKey === q)).toHaveLength(0);
      expect((await broker.deadLetters()).filter((d) => d.queue === q)).toHaveLength(0);
      expect((await broker.pendingTasks(other)).map((s) => s.name)).toEqual(['elsewhere']);
    } finally {
      await broker.close();
    }
  });

  it('--delayed --yes removes only the delayed tasks, and says so', async () => {
    const { q, broker } = await fill('delayed');
    try {
      const r = await machinery(['purge', '--queue', q, '--delayed', '-y'], env);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`removed from ${q}: 1 delayed`);
      expect(await broker.pendingTasks(q)).toHaveLength(2);
      expect((await broker.deadLetters()).filter((d) => d.queue === q)).toHaveLength(1);
    } finally {
      await broker.close();
    }
  });

  it('two queues at once exit 2 before connecting', async () => {
    const r = await machinery(['purge', '--queue', 'a,b', '--yes', '--broker', 'redis://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'machinery: purge works on one queue at a time (got --queue a,b): run it once per queue.',
    );
  });
});

describe('machinery purge on SQS', () => {
  const sqsEnv = { BROKER_URL: SQS, RESULT_BACKEND_URL: MEMCACHE };

  it('--delayed exits 2 saying SQS cannot purge delayed tasks; naming no part purges what it can', async () => {
    const q = uniqueQueue('sqs_purge');
    const asked = await machinery(['purge', '--queue', q, '--delayed', '--yes'], sqsEnv);
    expect(asked.code).toBe(2);
    expect(asked.stderr).toMatch(/cannot purge delayed: leave out --delayed/);

    const preview = await machinery(['purge', '--queue', q, '--json'], sqsEnv);
    expect(preview.code).toBe(2);
    expect(JSON.parse(preview.stdout)).toMatchObject({
      parts: ['pending', 'deadLetters'],
      wouldRemove: { pending: null },
      skipped: ['delayed'],
    });
  });
});
