import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { silentLogger } from '@machinery/core';
import { AMQP_URL, adminConnection } from '@machinery/test-services';
import type { AmqpBrokerOptions } from '../src/index.js';

const run = promisify(execFile);

/** Broker options that keep every name inside the test's namespace. */
export function brokerOptions(namespace: string, extra: AmqpBrokerOptions = {}): AmqpBrokerOptions {
  return {
    url: AMQP_URL,
    exchange: `${namespace}_exchange`,
    defaultQueue: `${namespace}_tasks`,
    deadLetterQueue: `${namespace}_dead_letters`,
    connectionName: `${namespace}-broker`,
    logger: silentLogger,
    ...extra,
  };
}

/** Publishes raw bytes straight into `queue` (bypassing the codec), as a foreign producer would. */
export async function publishRaw(
  queue: string,
  body: string | Buffer,
  properties: Record<string, unknown> = {},
): Promise<void> {
  const ch = await (await adminConnection()).createConfirmChannel();
  try {
    ch.sendToQueue(queue, typeof body === 'string' ? Buffer.from(body) : body, properties);
    await ch.waitForConfirms();
  } finally {
    await ch.close();
  }
}

const touched = new Set<string>();

/**
 * Deletes the queues and exchanges a test created in its namespace: the default, dead-letter and
 * suite queues, the delay levels and the exchange.
 */
export async function deleteNamespace(namespace: string, extraQueues: readonly string[] = []): Promise<void> {
  touched.add(namespace);
  const exchange = `${namespace}_exchange`;
  const levels = Array.from({ length: 32 }, (_, k) => `${exchange}.delay.${k}`);
  const queues = [
    `${namespace}_tasks`,
    `${namespace}_tasks_other`,
    `${namespace}_tasks_delayed_other`,
    `${namespace}_dead_letters`,
    ...levels,
    `${exchange}.delay.exit`,
    ...extraQueues,
  ];
  const ch = await (await adminConnection()).createChannel();
  try {
    for (const q of queues) await ch.deleteQueue(q);
    for (const e of [...levels, `${exchange}.delay.exit`, exchange]) await ch.deleteExchange(e);
  } finally {
    await ch.close();
  }
}

/**
 * Safety net for `afterAll`: deletes any queue or exchange still named after a namespace this file
 * used (a test that failed half-way may have created more than `deleteNamespace` knows).
 */
export async function sweepNamespaces(): Promise<void> {
  if (touched.size === 0) return;
  const mine = (name: string) => [...touched].some((ns) => name.startsWith(ns));
  const list = async (what: string) =>
    (await run('rabbitmqctl', [what, '-q', '--no-table-headers', 'name'])).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && mine(l));
  const ch = await (await adminConnection()).createChannel();
  try {
    for (const q of await list('list_queues')) await ch.deleteQueue(q);
    for (const e of await list('list_exchanges')) await ch.deleteExchange(e);
  } finally {
    await ch.close();
  }
  touched.clear();
}
