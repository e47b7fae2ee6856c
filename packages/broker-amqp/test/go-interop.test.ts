// Interop with Go Machinery at the AMQP level: raw messages and declarations exactly as Go's broker
// (v2/brokers/amqp/amqp.go, common/amqp.go) makes them, checked against what we publish and consume.
import { readFileSync } from 'node:fs';
import {
  decodeSignature,
  defineTask,
  encodeSignature,
  encodeSignatureCompact,
  MemoryBackend,
  Server,
  signature,
  silentLogger,
} from '@machinery/core';
import { adminConnection, closeAdmin } from '@machinery/test-services';
import { eventually, uniqueNamespace } from '@machinery/testing';
import type { GetMessage } from 'amqplib';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, sweepNamespaces } from './support.js';

const vector = (name: string) =>
  readFileSync(new URL(`../../core/test/vectors/${name}`, import.meta.url), 'utf8').trim();

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await sweepNamespaces();
  await closeAdmin();
});

function setup(extra: Parameters<typeof brokerOptions>[1] = {}) {
  const ns = uniqueNamespace('mtgo');
  const options = brokerOptions(ns, extra);
  const broker = new AmqpBroker(options);
  const extraQueues: string[] = [];
  cleanups.push(async () => {
    await broker.close();
    await deleteNamespace(ns, extraQueues);
  });
  return { ns, broker, exchange: options.exchange as string, queue: broker.defaultQueue, extraQueues };
}

/** Go's publish: exchange, routing key, persistent JSON, Signature.Headers as headers, Priority. */
async function goPublish(
  exchange: string,
  routingKey: string,
  body: string,
  headers: object = {},
  priority = 0,
) {
  const ch = await (await adminConnection()).createConfirmChannel();
  try {
    ch.publish(exchange, routingKey, Buffer.from(body), {
      headers,
      contentType: 'application/json',
      priority,
      deliveryMode: 2,
    });
    await ch.waitForConfirms();
  } finally {
    await ch.close();
  }
}

/** Go's consumer side: basic.get from the queue (the body is what a Go worker decodes). */
async function goGet(queue: string): Promise<GetMessage> {
  const ch = await (await adminConnection()).createChannel();
  try {
    return await eventually(async () => {
      const m = await ch.get(queue, { noAck: true });
      if (m === false) throw new Error(`no message in ${queue} yet`);
      return m;
    });
  } finally {
    await ch.close();
  }
}

it('runs a task a Go producer published (raw Go message on the exchange)', async () => {
  const { broker, exchange, queue } = setup();
  const backend = new MemoryBackend();
  const server = new Server({ broker, backend, logger: silentLogger });
  const greet = defineTask('greet', (n: number, s: string) => `${s} ${n}`);
  server.register(greet);
  await server.worker({ handleSignals: false }).start();
  // The vector is Go's JSON byte for byte; only the UUID is made unique and the routing key ours.
  const uuid = `task_${uniqueNamespace('')}-go`;
  const body = vector('signature-plain.json')
    .replace('task_9b2f6d1e-8c4a-4f7e-a1d3-2e5c7b9f0a11', uuid)
    .replace('"RoutingKey":"machinery_tasks"', `"RoutingKey":"${queue}"`);
  await goPublish(exchange, queue, body, { 'x-go-header': 'kept' });
  expect(await server.result(uuid).get({ timeoutMs: 10_000 })).toBe('hello 42');
});

it('publishes with wireFormat "go" exactly what Go publishes: Go JSON body, persistent, headers and priority', async () => {
  const { broker, exchange, queue } = setup({ maxPriority: 10, wireFormat: 'go' });
  const template = decodeSignature(vector('signature-eta-retry.json'));
  template.eta = null;
  template.routingKey = queue;
  template.headers = { trace: 'abc', n: 7 };
  await broker.publish(template);
  const m = await goGet(queue);
  expect(m.fields.exchange).toBe(exchange);
  expect(m.fields.routingKey).toBe(queue);
  expect(m.properties.contentType).toBe('application/json');
  expect(m.properties.deliveryMode).toBe(2);
  expect(m.properties.priority).toBe(3);
  expect(m.properties.headers).toEqual({ trace: 'abc', n: 7 });
  expect(m.content.toString('utf8')).toBe(encodeSignature(template));
  // Field for field Go's encoding of the vector (ETA cleared, our routing key and headers — Go writes
  // map keys sorted).
  expect(m.content.toString('utf8')).toBe(
    vector('signature-eta-retry.json')
      .replace('"ETA":"2025-06-01T10:00:05.5Z"', '"ETA":null')
      .replace('"RoutingKey":"crawler"', `"RoutingKey":"${queue}"`)
      .replace('"Headers":{}', '"Headers":{"n":7,"trace":"abc"}'),
  );
});

it('publishes by default a compact body that Go decodes to the same task (zero values left out)', async () => {
  const { broker, queue } = setup();
  const sig = decodeSignature(vector('signature-chord-member.json'));
  sig.routingKey = queue;
  sig.headers = { trace: 'abc' };
  // An empty map is a zero value too (left out, read back as nil, which Go treats as empty).
  if (sig.chordCallback) sig.chordCallback.headers = null;
  await broker.publish(sig);
  const body = (await goGet(queue)).content.toString('utf8');
  expect(body).toBe(encodeSignatureCompact(sig));
  expect(body.length).toBeLessThan(encodeSignature(sig).length / 2);
  // Go fills missing fields with zero values: decoded, it is the same message.
  expect(encodeSignature(decodeSignature(body))).toBe(encodeSignature(sig));
});

it('declares the exchange and queue as Go does, so Go redeclares them without PRECONDITION_FAILED', async () => {
  const { broker, exchange, queue } = setup({ maxPriority: 10 });
  await broker.publish(signature('declare_me', [], { headers: {} }));
  const ch = await (await adminConnection()).createChannel();
  try {
    // Go: ExchangeDeclare(name, type, durable=true, autoDelete=false, internal=false, noWait=false, nil)
    await ch.assertExchange(exchange, 'direct', { durable: true, autoDelete: false, internal: false });
    // Go: QueueDeclare(name, durable=true, autoDelete=false, exclusive=false, noWait=false, QueueDeclareArgs),
    // where a YAML/env x-max-priority arrives as a 64-bit integer.
    const q = await ch.assertQueue(queue, {
      durable: true,
      autoDelete: false,
      exclusive: false,
      arguments: { 'x-max-priority': { '!': 'long', value: 10 } },
    });
    expect(q.messageCount).toBe(1);
    await ch.bindQueue(queue, exchange, queue);
  } finally {
    await ch.close();
  }
});

it('delivers a task Go delayed (delay.<ms>.<exchange>.<routingKey> queue) once its TTL passed', async () => {
  const { broker, exchange, queue, extraQueues } = setup();
  const got: { name: string; at: number }[] = [];
  const consumer = await broker.consume(
    queue,
    (d) => {
      got.push({ name: d.signature.name, at: Date.now() });
      void d.ack();
    },
    { concurrency: 1, prefetch: 0 },
  );
  cleanups.push(() => consumer.stop());
  const delayMs = 300;
  const delayQueue = `delay.${delayMs}.${exchange}.${queue}`;
  extraQueues.push(delayQueue);
  const ch = await (await adminConnection()).createChannel();
  try {
    // Go's delay(): a queue per delay value, dead-lettering into the exchange with the routing key.
    await ch.assertQueue(delayQueue, {
      durable: true,
      autoDelete: false,
      arguments: {
        'x-dead-letter-exchange': exchange,
        'x-dead-letter-routing-key': queue,
        'x-message-ttl': delayMs,
        'x-expires': delayMs * 2,
      },
    });
    await ch.bindQueue(delayQueue, exchange, delayQueue);
  } finally {
    await ch.close();
  }
  const sig = signature('go_delayed', [], {
    headers: {},
    routingKey: queue,
    eta: new Date(Date.now() + delayMs),
  });
  const sentAt = Date.now();
  await goPublish(exchange, delayQueue, encodeSignature(sig));
  await eventually(() => expect(got.map((g) => g.name)).toEqual(['go_delayed']), { timeoutMs: 10_000 });
  expect((got[0]?.at as number) - sentAt).toBeGreaterThanOrEqual(delayMs - 5);
});

it('delivers a task we delayed to the plain queue, for a Go worker, no earlier than its ETA', async () => {
  const { broker, queue } = setup();
  const eta = new Date(Date.now() + 400);
  const sig = signature('ts_delayed', [1], { headers: { trace: 'x' }, eta });
  await broker.publish(sig);
  const m = await goGet(queue);
  expect(Date.now()).toBeGreaterThanOrEqual(eta.getTime() - 5);
  expect(encodeSignature(decodeSignature(m.content))).toBe(encodeSignature(sig));
  expect(m.properties.headers?.trace).toBe('x');
  expect(m.properties.deliveryMode).toBe(2);
});
