import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Delivery, isMachineryError, signature } from '@machinery/core';
import { closeAdmin } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBroker, type AmqpBrokerOptions } from '../src/index.js';
import { brokerOptions, deleteNamespace, sweepNamespaces } from './support.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await sweepNamespaces();
  await closeAdmin();
});

function broker(ns: string, extra: AmqpBrokerOptions = {}): AmqpBroker {
  const b = new AmqpBroker(brokerOptions(ns, { queueType: 'quorum', deliveryLimit: 2, ...extra }));
  cleanups.push(() => b.close());
  return b;
}

function namespace(): string {
  const ns = uniqueNamespace('mtquorum');
  cleanups.push(() => deleteNamespace(ns));
  return ns;
}

async function collect(b: AmqpBroker): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const consumer = await b.consume(b.defaultQueue, (d) => got.push(d), { concurrency: 1, prefetch: 0 });
  cleanups.push(() => consumer.stop());
  return got;
}

it('declares its task queues as quorum queues with the delivery limit and our dead-letter queue', async () => {
  const ns = namespace();
  const b = broker(ns);
  await b.publish(signature('t', [], { headers: {} }));
  const { stdout } = await run('rabbitmqctl', [
    'list_queues',
    '-q',
    '--no-table-headers',
    'name',
    'type',
    'arguments',
  ]);
  const line = stdout.split('\n').find((l) => l.startsWith(`${ns}_tasks\t`)) ?? '';
  expect(line).toContain('quorum');
  expect(line).toContain('x-delivery-limit');
  expect(line).toContain(`${ns}_dead_letters`);
});

it('dead-letters a task whose worker dies holding it every time, once past the delivery limit', async () => {
  const ns = namespace();
  await broker(ns).publish(signature('poison', [], { headers: {} }));
  // Each "worker" takes the task and goes away without settling it: RabbitMQ returns it and counts.
  const attempts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const worker = broker(ns);
    const got = await collect(worker);
    await eventually(() => expect(got).toHaveLength(1));
    attempts.push((got[0] as Delivery).attempt);
    await worker.close();
  }
  expect(attempts).toEqual([1, 2, 3]);
  const inspector = broker(ns);
  const dead = await eventually(async () => {
    const d = await inspector.deadLetters();
    expect(d).toHaveLength(1);
    return d;
  });
  expect(dead[0]?.reason).toBe('delivery_limit');
  expect(dead[0]?.queue).toBe(`${ns}_tasks`);
  expect(dead[0]?.body).toContain('"Name":"poison"');
  // Requeued, it starts afresh.
  expect(await inspector.requeueDeadLetters()).toBe(1);
  const got = await collect(inspector);
  await eventually(() => expect(got).toHaveLength(1));
  expect(got[0]?.signature.name).toBe('poison');
  expect(await got[0]?.ack()).toBe(true);
});

it('dead-letters a task requeued more often than the delivery limit allows', async () => {
  const ns = namespace();
  const b = broker(ns);
  const got = await collect(b);
  await b.publish(signature('bounced', [], { headers: {} }));
  for (let i = 0; i < 3; i++) {
    await eventually(() => expect(got).toHaveLength(i + 1));
    expect(got[i]?.attempt).toBe(i + 1);
    expect(await got[i]?.nack({ requeue: true })).toBe(true);
  }
  const dead = await eventually(async () => {
    const d = await b.deadLetters();
    expect(d).toHaveLength(1);
    return d;
  });
  expect(dead[0]?.reason).toBe('delivery_limit');
  expect(got).toHaveLength(3);
});

it('does not list pending tasks of a quorum queue, which would count as deliveries', async () => {
  const ns = namespace();
  const b = broker(ns);
  await b.publish(signature('waiting', [], { headers: {} }));
  expect(b.capabilities.pendingInspection).toBe(false);
  await expect(b.pendingTasks()).rejects.toSatisfy((err) => isMachineryError(err, 'ERR_INVALID_ARGUMENT'));
  // A limit of 0 reads no message: the connection check of @machinery/connect still works.
  expect(await b.pendingTasks(b.defaultQueue, 0)).toEqual([]);
  const got = await collect(b);
  await eventually(() => expect(got).toHaveLength(1));
  expect(got[0]?.attempt).toBe(1);
  expect(await got[0]?.ack()).toBe(true);
});

const rabbitVersion = (await run('rabbitmqctl', ['version'])).stdout.trim();
const before43 = /^3\.|^4\.[0-2]\./.test(rabbitVersion);

it.skipIf(!before43)(
  `fails clearly when RabbitMQ refuses x-max-priority on a quorum queue (before 4.3; here ${rabbitVersion})`,
  async () => {
    const ns = namespace();
    const b = broker(ns, { maxPriority: 5 });
    expect(b.capabilities.priorities).toBe(true);
    const err = await b.publish(signature('t', [], { headers: {} })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain('x-max-priority');
  },
);

it('refuses deliveryLimit without quorum queues, and invalid values', () => {
  const refused = (options: AmqpBrokerOptions) => {
    try {
      new AmqpBroker(options);
    } catch (err) {
      return isMachineryError(err, 'ERR_INVALID_ARGUMENT');
    }
    return false;
  };
  expect(refused({ deliveryLimit: 3 })).toBe(true);
  expect(refused({ queueType: 'quorum', deliveryLimit: 0 })).toBe(true);
  expect(refused({ queueType: 'stream' as 'quorum' })).toBe(true);
});
