import { execFile } from 'node:child_process';
import { createServer, type Server as NetServer, type Socket, connect as tcpConnect } from 'node:net';
import { promisify } from 'node:util';
import { silentLogger } from '@machinery/core';
import { type ChannelModel, connect } from 'amqplib';
import type { AmqpBrokerOptions } from '../src/index.js';

const run = promisify(execFile);

/** RabbitMQ used by the tests (loopback only). */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

let admin: Promise<ChannelModel> | undefined;

/** A connection for test plumbing (raw publishes, clean-up), separate from the code under test. */
export function adminConnection(): Promise<ChannelModel> {
  admin ??= connect(AMQP_URL, { clientProperties: { connection_name: 'machinery-broker-amqp-tests-admin' } });
  return admin;
}

/** Closes the plumbing connection (call in `afterAll`). */
export async function closeAdmin(): Promise<void> {
  const a = admin;
  admin = undefined;
  if (a) await (await a).close().catch(() => {});
}

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

/**
 * Closes, from the server side, every RabbitMQ connection whose `connection_name` is `name` — what an
 * operator's `rabbitmqctl close_connection` or a RabbitMQ node shutting down does to a client.
 * Returns how many were closed.
 */
export async function closeConnectionsNamed(name: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    '-q',
    '--no-table-headers',
    'pid',
    'client_properties',
  ]);
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`))
    .map((line) => line.split('\t')[0] as string);
  for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'closed by a machinery test']);
  return pids.length;
}

/**
 * A TCP proxy in front of RabbitMQ, so a test can cut every connection through it and refuse new ones
 * for a while — an outage as a client sees it — without touching the shared RabbitMQ.
 */
export class TcpProxy {
  private server: NetServer | undefined;
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private port = 0;

  constructor(
    private readonly targetHost = '127.0.0.1',
    private readonly targetPort = 5672,
  ) {}

  /** Starts listening on a free port; returns the AMQP URL through the proxy. */
  async start(): Promise<string> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      const upstream = tcpConnect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    const url = new URL(AMQP_URL);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** Cuts every open connection and refuses new ones until {@link resume}. */
  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Accepts connections again. */
  resume(): void {
    this.refusing = false;
  }

  /** Number of client connections currently proxied. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  /** Stops the proxy and cuts what is left. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Result queues are named after task and group UUIDs, not after the test: note every one a test touches. */
function record(names: Set<string>, value: unknown): void {
  if (typeof value === 'string') {
    if (/^(task|group|chord)_/.test(value)) names.add(value);
    if (value.startsWith('group_')) names.add(`${value}_meta`).add(`${value}_chord_triggered`);
    return;
  }
  if (value && typeof value === 'object' && 'uuid' in value) {
    const sig = value as { uuid: unknown; groupUUID?: unknown };
    record(names, sig.uuid);
    record(names, sig.groupUUID);
  }
}

/** `target` (a result backend), noting in `names` every result queue its calls touch. */
export function tracked<T extends object>(target: T, names: Set<string>): T {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        for (const a of args) {
          if (Array.isArray(a)) for (const x of a) record(names, x);
          else record(names, a);
        }
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/** Deletes the named queues (missing ones are fine). */
export async function deleteQueues(names: Iterable<string>): Promise<void> {
  const ch = await (await adminConnection()).createChannel();
  try {
    for (const q of names) await ch.deleteQueue(q);
  } finally {
    await ch.close();
  }
}

/** Per-namespace sets of result queue names, for {@link tracked}. */
export class QueueNames {
  private readonly byNamespace = new Map<string, Set<string>>();

  /** The set of `namespace`. */
  of(namespace: string): Set<string> {
    let set = this.byNamespace.get(namespace);
    if (!set) {
      set = new Set();
      this.byNamespace.set(namespace, set);
    }
    return set;
  }

  /** Deletes the queues noted for `namespace`. */
  async delete(namespace: string): Promise<void> {
    await deleteQueues(this.of(namespace));
    this.forget(namespace);
  }

  /** Drops the names noted for `namespace`. */
  forget(namespace: string): void {
    this.byNamespace.delete(namespace);
  }
}
