import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Delivery, isMachineryError, type Signature, signature } from '@machinery/core';
import { closeAdmin } from '@machinery/test-services';
import { eventually, observeFor, uniqueNamespace } from '@machinery/testing';
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

function setup(extra: AmqpBrokerOptions = {}) {
  const ns = uniqueNamespace('mtpub');
  const broker = new AmqpBroker(brokerOptions(ns, extra));
  cleanups.push(async () => {
    await broker.close();
    await deleteNamespace(ns);
  });
  return { ns, broker };
}

async function collect(broker: AmqpBroker, queue: string, concurrency = 1) {
  const got: Delivery[] = [];
  const consumer = await broker.consume(
    queue,
    (d) => {
      got.push(d);
      void d.ack();
    },
    { concurrency, prefetch: concurrency },
  );
  cleanups.push(() => consumer.stop());
  return got;
}

/** Channels RabbitMQ counts on the connection named `name`. */
async function channelsOf(name: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    '-q',
    '--no-table-headers',
    'channels',
    'client_properties',
  ]);
  const line = stdout.split('\n').find((l) => l.includes(`{"connection_name","${name}"}`));
  if (!line) throw new Error(`no connection named ${name}`);
  return Number(line.split('\t')[0]);
}

const task = (name: string, extra: Partial<Signature> = {}) => signature(name, [], { headers: {}, ...extra });

it('publishes a group of 10 000 tasks over one long-lived channel, and each arrives once', async () => {
  const { ns, broker: consumerBroker } = setup();
  const producer = new AmqpBroker(brokerOptions(ns, { connectionName: `${ns}-producer` }));
  cleanups.push(() => producer.close());
  const sigs = Array.from({ length: 10_000 }, (_, i) => task(`t${i}`));
  // Ten times amqplib's channel write buffer (1024 frames): the publisher must wait for 'drain'.
  await producer.publishMany(sigs);
  // One channel for declarations and one confirm channel for every publish: none per task.
  expect(await channelsOf(`${ns}-producer`)).toBeLessThanOrEqual(2);
  const got = await collect(consumerBroker, consumerBroker.defaultQueue, 50);
  await eventually(() => expect(got.length).toBe(10_000), { timeoutMs: 60_000, intervalMs: 100 });
  expect(new Set(got.map((d) => d.signature.uuid)).size).toBe(10_000);
  await observeFor(200);
  expect(got.length).toBe(10_000);
}, 120_000);

it('publishMany encodes every task first: one that cannot be encoded publishes none', async () => {
  const { broker } = setup();
  const bad = task('bad');
  bad.args = [{ name: '', type: 'float64', value: Number.NaN }];
  await expect(broker.publishMany([task('good1'), bad, task('good2')])).rejects.toThrow();
  const got = await collect(broker, broker.defaultQueue);
  await broker.publish(task('marker'));
  await eventually(() => expect(got.map((d) => d.signature.name)).toContain('marker'));
  expect(got.map((d) => d.signature.name)).toEqual(['marker']);
});

it('refuses a task RabbitMQ cannot route with a clear error instead of dropping it', async () => {
  const { broker } = setup({ exchangeType: 'topic', bindingKey: 'jobs.#' });
  const got = await collect(broker, broker.defaultQueue);
  await broker.publish(task('routed', { routingKey: 'jobs.email' }));
  await eventually(() => expect(got.map((d) => d.signature.name)).toEqual(['routed']));
  const err = await broker.publish(task('lost', { routingKey: 'nowhere' })).catch((e: unknown) => e);
  expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
  expect((err as Error).message).toMatch(/could not route task "lost".*routing key "nowhere"/);
});
