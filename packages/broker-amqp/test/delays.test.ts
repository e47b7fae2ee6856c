import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Delivery, signature } from '@machinery/core';
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

async function setup(extra: AmqpBrokerOptions = {}) {
  const ns = uniqueNamespace('mtdelay');
  const broker = new AmqpBroker(brokerOptions(ns, extra));
  const got: { d: Delivery; at: number }[] = [];
  const consumer = await broker.consume(broker.defaultQueue, (d) => got.push({ d, at: Date.now() }), {
    concurrency: 50,
    prefetch: 0,
  });
  cleanups.push(async () => {
    await consumer.stop();
    await broker.close();
    await deleteNamespace(ns);
  });
  return { ns, broker, got };
}

it('delays of any length share one fixed set of queues: levels + 1, never one per delay', async () => {
  const { ns, broker, got } = await setup();
  const etas = Array.from({ length: 25 }, (_, i) => new Date(Date.now() + 50 + i * 53));
  await broker.publishMany(etas.map((eta, i) => signature(`d${i}`, [], { headers: {}, eta })));
  await eventually(() => expect(got).toHaveLength(25), { timeoutMs: 15_000 });
  for (const { d, at } of got) {
    const eta = etas[Number(d.signature.name.slice(1))] as Date;
    expect(at).toBeGreaterThanOrEqual(eta.getTime() - 5);
    await d.ack();
  }
  const { stdout } = await run('rabbitmqctl', ['list_queues', '-q', '--no-table-headers', 'name']);
  const queues = stdout.split('\n').filter((q) => q.includes(ns));
  // 32 delay levels, the exit queue and the task queue; no Go-style delay.<ms>.… queue.
  expect(queues).toHaveLength(34);
  expect(queues.filter((q) => q.startsWith('delay.'))).toEqual([]);
});

it('re-delays on arrival a delay longer than one pass through the levels, never running it early', async () => {
  // Four levels: one pass covers 15 ms, so 250 ms takes many passes.
  const { broker, got } = await setup({ delayLevels: 4 });
  const eta = new Date(Date.now() + 250);
  await broker.publish(signature('far', [], { headers: {}, eta }));
  await eventually(() => expect(got).toHaveLength(1), { timeoutMs: 10_000 });
  const first = got[0] as { d: Delivery; at: number };
  expect(first.at).toBeGreaterThanOrEqual(eta.getTime() - 5);
  expect(first.d.attempt).toBe(1);
  expect(first.d.redelivered).toBe(false);
  expect(await first.d.ack()).toBe(true);
});

it('a delayed requeue waits at least its delay and keeps counting attempts', async () => {
  const { broker, got } = await setup();
  await broker.publish(signature('again', [], { headers: {} }));
  await eventually(() => expect(got).toHaveLength(1));
  const nackedAt = Date.now();
  expect(await got[0]?.d.nack({ requeue: true, delayMs: 120 })).toBe(true);
  await eventually(() => expect(got).toHaveLength(2), { timeoutMs: 10_000 });
  expect((got[1]?.at as number) - nackedAt).toBeGreaterThanOrEqual(115);
  expect(got[1]?.d.attempt).toBe(2);
  expect(await got[1]?.d.nack({ requeue: true, delayMs: 30 })).toBe(true);
  await eventually(() => expect(got).toHaveLength(3), { timeoutMs: 10_000 });
  expect(got[2]?.d.attempt).toBe(3);
  expect(got[2]?.d.redelivered).toBe(true);
  expect(got[2]?.d.signature.uuid).toBe(got[0]?.d.signature.uuid);
  await got[2]?.d.ack();
});
