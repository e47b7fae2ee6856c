import { type Delivery, MemoryBackend, Server, signature, silentLogger } from '@machinery/core';
import { adminConnection, closeAdmin } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, publishRaw, sweepNamespaces } from './support.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await sweepNamespaces();
  await closeAdmin();
});

function setup() {
  const ns = uniqueNamespace('mtdead');
  const broker = new AmqpBroker(brokerOptions(ns));
  cleanups.push(async () => {
    await broker.close();
    await deleteNamespace(ns);
  });
  return { ns, broker };
}

async function collect(broker: AmqpBroker, queue: string, ack = false) {
  const got: Delivery[] = [];
  const consumer = await broker.consume(
    queue,
    (d) => {
      got.push(d);
      if (ack) void d.ack();
    },
    { concurrency: 5, prefetch: 0 },
  );
  cleanups.push(() => consumer.stop());
  return got;
}

/** The raw dead-letter message, read and put back. */
async function rawDeadLetter(queue: string) {
  const ch = await (await adminConnection()).createChannel();
  try {
    const m = await ch.get(queue, { noAck: false });
    if (m === false) throw new Error('no dead letter');
    ch.nack(m, false, true);
    return m;
  } finally {
    await ch.close();
  }
}

it('dead-letters an undecodable message with the reason and its queue in headers, body untouched', async () => {
  const { ns, broker } = setup();
  const got = await collect(broker, broker.defaultQueue, true);
  const body = '{"UUID":"task_x","Name":';
  await publishRaw(broker.defaultQueue, body, { headers: { 'x-from': 'elsewhere' } });
  await eventually(async () => expect(await broker.deadLetters()).toHaveLength(1));
  expect(got).toHaveLength(0);
  const m = await rawDeadLetter(`${ns}_dead_letters`);
  expect(m.content.toString('utf8')).toBe(body);
  expect(String(m.properties.headers?.['x-machinery-reason'])).toMatch(/JSON/i);
  expect(m.properties.headers?.['x-machinery-queue']).toBe(broker.defaultQueue);
  expect(m.properties.headers?.['x-from']).toBe('elsewhere');
  const [dead] = await broker.deadLetters();
  expect(dead?.queue).toBe(broker.defaultQueue);
  expect(dead?.at).toBeInstanceOf(Date);
});

it('dead-letters a task no worker knows after bounded requeues, with the reason', async () => {
  const { broker } = setup();
  const server = new Server({ broker, backend: new MemoryBackend(), logger: silentLogger });
  await server.worker({ handleSignals: false, unregisteredTaskRequeues: 3 }).start();
  cleanups.push(() => server.close());
  await server.send(signature('nobody_knows', [1]));
  const dead = await eventually(
    async () => {
      const list = await broker.deadLetters();
      expect(list).toHaveLength(1);
      return list;
    },
    { timeoutMs: 15_000 },
  );
  expect(dead[0]?.reason).toMatch(/"nobody_knows" is not registered .*delivered 4 times/);
  expect(dead[0]?.queue).toBe(broker.defaultQueue);
});

it('reads dead letters any number of times without removing or reordering them', async () => {
  const { broker } = setup();
  const got = await collect(broker, broker.defaultQueue);
  await broker.publishMany(['a', 'b', 'c'].map((n) => signature(n, [], { headers: {} })));
  await eventually(() => expect(got).toHaveLength(3));
  for (const d of got) await d.nack({ requeue: false, reason: `no ${d.signature.name}` });
  const first = await eventually(async () => {
    const list = await broker.deadLetters();
    expect(list).toHaveLength(3);
    return list;
  });
  expect((await broker.deadLetters()).map((d) => d.body)).toEqual(first.map((d) => d.body));
  expect((await broker.deadLetters(2)).map((d) => d.reason)).toEqual(first.slice(0, 2).map((d) => d.reason));
});

it('requeues each dead letter to the queue it came from, with a fresh attempt count', async () => {
  const { broker } = setup();
  const other = `${broker.defaultQueue}_other`;
  const main = await collect(broker, broker.defaultQueue);
  const side = await collect(broker, other);
  await broker.publish(signature('m', [], { headers: {} }));
  await broker.publish(signature('s', [], { headers: {}, routingKey: other }));
  await eventually(() => expect([main.length, side.length]).toEqual([1, 1]));
  await main[0]?.nack({ requeue: false, reason: 'main failed' });
  await side[0]?.nack({ requeue: false, reason: 'side failed' });
  await eventually(async () => expect(await broker.deadLetters()).toHaveLength(2));
  expect(await broker.requeueDeadLetters()).toBe(2);
  await eventually(() => expect([main.length, side.length]).toEqual([2, 2]));
  expect(main[1]?.signature.name).toBe('m');
  expect(side[1]?.signature.name).toBe('s');
  expect(main[1]?.attempt).toBe(1);
  expect(await broker.deadLetters()).toHaveLength(0);
});
