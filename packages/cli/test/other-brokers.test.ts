import { deleteQueues } from '@machinery/test-services';
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
    // The worker side declares a queue; sending first to a queue nobody declared would be unroutable.
    const declared = await machinery(['pending', '--queue', q], env);
    expect(declared.code).toBe(0);
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
  const env = { BROKER_URL: SQS, RESULT_BACKEND_URL: MEMCACHE };

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
});
