import { connect } from '@machinery/connect';
import { signature, silentLogger } from '@machinery/core';
import { deleteQueues } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { AMQP, MEMCACHE, machinery, SQS, uniqueQueue } from './machinery.js';

const amqpQueues: string[] = [];

afterAll(async () => {
  await deleteQueues(amqpQueues);
});

describe('machinery on RabbitMQ', () => {
  it('send → status, pending and task show the waiting task', async () => {
    const q = uniqueQueue('amqp');
    amqpQueues.push(q);
    const env = { BROKER_URL: AMQP };
    const sent = await machinery(['send', 'add', '1', '2', '--queue', q], env);
    expect(sent.code).toBe(0);
    const uuid = sent.stdout.trim();

    const status = await machinery(['status', '--queue', q, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).queues[0]).toMatchObject({
      queue: q,
      pending: { count: 1, complete: true },
    });
    const pending = await machinery(['pending', '--queue', q, '--json'], env);
    expect(JSON.parse(pending.stdout).tasks).toMatchObject([{ uuid, name: 'add' }]);
    const task = await machinery(['task', uuid, '--queue', q, '--json'], env);
    expect(task.code).toBe(0);
    expect(JSON.parse(task.stdout)).toMatchObject({ uuid, state: 'PENDING', argsFrom: 'pending' });
    const dead = await machinery(['dead-letters', '--queue', q], env);
    expect(dead.code).toBe(0);
  });
});

describe('machinery on SQS with a Memcache backend', () => {
  // No control plane: these tests are about what the broker can list.
  const env = { BROKER_URL: SQS, RESULT_BACKEND_URL: MEMCACHE, CONTROL_URL: 'none' };

  it('status says which counts the broker cannot list instead of guessing', async () => {
    const r = await machinery(['status', '--json'], env);
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout);
    expect(data.queues[0]).toMatchObject({ pending: null, delayed: null, paused: null, workers: null });
    expect(data.queues[0].deadLetters).toMatchObject({ complete: true });
    expect(data.unavailable).toMatchObject({
      pending: 'the broker cannot list pending tasks',
      delayed: 'the broker cannot list delayed tasks',
    });
    const human = await machinery(['status'], env);
    expect(human.stdout).toMatch(/^machinery_tasks\s+n\/a\s+n\/a\s+\d+\s+—\s+—$/m);
    expect(human.stdout).toContain('n/a (the broker cannot list pending tasks)');
  });

  it('pending exits 2: the configured broker cannot list it', async () => {
    const r = await machinery(['pending'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^machinery: The broker sqs:\/\/test:\*\*\*@.* cannot list pending tasks/);
  });

  it('send stores PENDING in memcached, which task reads back', async () => {
    const q = uniqueQueue('sqs');
    const sent = await machinery(['send', 'add', '1', '2', '--queue', q], env);
    expect(sent.code).toBe(0);
    const uuid = sent.stdout.trim();
    const task = await machinery(['task', uuid, '--json'], env);
    expect(task.code).toBe(0);
    expect(JSON.parse(task.stdout)).toMatchObject({ uuid, name: 'add', state: 'PENDING', args: null });
    const dead = await machinery(['dead-letters', '--queue', q, '--json'], env);
    expect(dead.code).toBe(0);
    expect(JSON.parse(dead.stdout).deadLetters).toEqual([]);
  });

  it('status reads the dead letters of every --queue, each from its own dead-letter queue', async () => {
    const [q1, q2] = [uniqueQueue('sqs1'), uniqueQueue('sqs2')];
    // A consumer that rejects the task: the broker moves it to q2's dead-letter queue.
    const c = await connect({ broker: SQS, backend: MEMCACHE, logger: silentLogger });
    try {
      await c.broker.publish(signature('add', [1], { routingKey: q2 }));
      const consumer = await c.broker.consume(
        q2,
        (d) => void d.nack({ requeue: false, reason: 'rejected by the test' }),
        {
          concurrency: 1,
          prefetch: 0,
        },
      );
      try {
        await eventually(async () => expect(await c.broker.deadLetters()).toHaveLength(1), {
          timeoutMs: 15_000,
        });
      } finally {
        await consumer.stop();
      }
    } finally {
      await c.close();
    }
    const status = await machinery(['status', '--queue', `${q1},${q2}`, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).queues).toMatchObject([
      { queue: q1, deadLetters: { count: 0, complete: true } },
      { queue: q2, deadLetters: { count: 1, complete: true } },
    ]);
    const dead = await machinery(['dead-letters', '--queue', q2, '--json'], env);
    expect(JSON.parse(dead.stdout).deadLetters).toMatchObject([
      { queue: q2, reason: 'rejected by the test', task: { name: 'add', queue: q2 } },
    ]);
    // QUEUE names the default queue, whose dead letters requeue moves on SQS.
    const requeued = await machinery(['requeue', '--json'], { ...env, QUEUE: q2 });
    expect(JSON.parse(requeued.stdout)).toEqual({ requeued: 1 });
  });
});
