import {
  type Delivery,
  defineTask,
  isMachineryError,
  MemoryBackend,
  Server,
  signature,
} from '@machinery/core';
import { closeAdmin, closeConnectionsNamed, TcpProxy } from '@machinery/test-services';
import { eventually, observeFor, uniqueNamespace } from '@machinery/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { AmqpBroker } from '../src/index.js';
import { brokerOptions, deleteNamespace, sweepNamespaces } from './support.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await sweepNamespaces();
  await closeAdmin();
});

function namespace(): string {
  const ns = uniqueNamespace('mtloss');
  cleanups.push(() => deleteNamespace(ns));
  return ns;
}

function track<T extends { close(): Promise<void> }>(x: T): T {
  cleanups.push(() => x.close());
  return x;
}

async function proxy(): Promise<{ proxy: TcpProxy; url: string }> {
  const p = new TcpProxy();
  const url = await p.start();
  cleanups.push(() => p.close());
  return { proxy: p, url };
}

it('resumes consuming after RabbitMQ closes the worker’s connection, and loses no task', async () => {
  const ns = namespace();
  const backend = new MemoryBackend();
  const runs = new Map<number, number>();
  const slow = defineTask('slow', async (n: number) => {
    runs.set(n, (runs.get(n) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    return n;
  });
  const producer = track(
    new Server({ broker: new AmqpBroker(brokerOptions(ns, { connectionName: `${ns}-producer` })), backend }),
  );
  const workerBroker = new AmqpBroker(
    brokerOptions(ns, { connectionName: `${ns}-worker`, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } }),
  );
  const worker = track(new Server({ broker: workerBroker, backend }));
  worker.register(slow);
  await worker.worker({ concurrency: 4, handleSignals: false }).start();

  const first = await Promise.all(Array.from({ length: 40 }, (_, i) => producer.send(slow.signature(i))));
  await eventually(() => expect(runs.size).toBeGreaterThanOrEqual(8));
  // Mid-stream: tasks are running and others wait in the queue.
  expect(await closeConnectionsNamed(`${ns}-worker`)).toBe(1);
  const second = await Promise.all(
    Array.from({ length: 20 }, (_, i) => producer.send(slow.signature(40 + i))),
  );

  const values = await Promise.all([...first, ...second].map((r) => r.get({ timeoutMs: 30_000 })));
  expect(values).toEqual(Array.from({ length: 60 }, (_, i) => i));
  expect(runs.size).toBe(60);
});

it('holds a publish during an outage and completes it once RabbitMQ is reachable again', async () => {
  const ns = namespace();
  const { proxy: p, url } = await proxy();
  const broker = track(
    new AmqpBroker(brokerOptions(ns, { url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } })),
  );
  const seen: Delivery[] = [];
  const consumer = await broker.consume(
    broker.defaultQueue,
    (d) => {
      seen.push(d);
      void d.ack();
    },
    { concurrency: 1, prefetch: 0 },
  );
  cleanups.push(() => consumer.stop());
  await broker.publish(signature('before', [], { headers: {} }));
  await eventually(() => expect(seen.map((d) => d.signature.name)).toEqual(['before']));

  p.cut();
  let settled = false;
  const publishing = broker.publish(signature('during', [], { headers: {} })).finally(() => {
    settled = true;
  });
  await observeFor(500);
  expect(settled).toBe(false);
  p.resume();
  await publishing;
  // At-least-once: 'before' comes again if the cut swallowed its acknowledgement.
  await eventually(
    () => expect(new Set(seen.map((d) => d.signature.name))).toEqual(new Set(['before', 'during'])),
    {
      timeoutMs: 15_000,
    },
  );
});

it('fails a publish with a clear ERR_CONNECTION once an outage outlasts publishTimeoutMs', async () => {
  const ns = namespace();
  const { proxy: p, url } = await proxy();
  const broker = track(new AmqpBroker(brokerOptions(ns, { url, publishTimeoutMs: 600 })));
  await broker.publish(signature('reachable', [], { headers: {} }));
  p.cut();
  const err = await broker.publish(signature('lost', [], { headers: {} })).catch((e: unknown) => e);
  expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
  expect((err as Error).message).toMatch(/within 600 ms/);
  // Credentials never appear in errors.
  expect((err as Error).message).not.toContain(':guest@');
  p.resume();
});

it('fails consume() with ERR_CONNECTION when RabbitMQ cannot be reached', async () => {
  const broker = track(
    new AmqpBroker(
      brokerOptions(uniqueNamespace('mtloss'), {
        url: 'amqp://guest:secret@127.0.0.1:1/',
        connectTimeoutMs: 400,
        reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
      }),
    ),
  );
  const err = await broker.consume('anything', () => {}, { concurrency: 1, prefetch: 0 }).catch((e) => e);
  expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
  expect((err as Error).message).toContain('amqp://guest:***@127.0.0.1:1/');
  expect((err as Error).message).not.toContain('secret');
});

it('settling a delivery whose connection was lost resolves false, and RabbitMQ delivers it again', async () => {
  const ns = namespace();
  const { proxy: p, url } = await proxy();
  const broker = track(
    new AmqpBroker(brokerOptions(ns, { url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } })),
  );
  const seen: Delivery[] = [];
  const consumer = await broker.consume(broker.defaultQueue, (d) => seen.push(d), {
    concurrency: 1,
    prefetch: 0,
  });
  cleanups.push(() => consumer.stop());
  await broker.publish(signature('fragile', [], { headers: {} }));
  await eventually(() => expect(seen).toHaveLength(1));
  p.cut();
  await eventually(() => expect(broker.isConnected).toBe(false));
  expect(await (seen[0] as Delivery).ack()).toBe(false);
  expect(await (seen[0] as Delivery).nack({ requeue: true })).toBe(false);
  p.resume();
  await eventually(() => expect(seen).toHaveLength(2), { timeoutMs: 15_000 });
  const again = seen[1] as Delivery;
  expect(again.signature.uuid).toBe((seen[0] as Delivery).signature.uuid);
  expect(again.redelivered).toBe(true);
  expect(await again.ack()).toBe(true);
});
