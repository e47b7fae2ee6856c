import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Backend } from '@machinery/core';
import { type ChannelModel, connect } from 'amqplib';

const run = promisify(execFile);

/** RabbitMQ used by the tests (loopback only). */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

let admin: Promise<ChannelModel> | undefined;

/** A connection for test plumbing (raw Go-style reads and writes, clean-up). */
export function adminConnection(): Promise<ChannelModel> {
  admin ??= connect(AMQP_URL, {
    clientProperties: { connection_name: 'machinery-backend-amqp-tests-admin' },
  });
  return admin;
}

/** Closes the plumbing connection (call in `afterAll`). */
export async function closeAdmin(): Promise<void> {
  const a = admin;
  admin = undefined;
  if (a) await (await a).close().catch(() => {});
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

/** `backend`, noting in `names` every result queue its calls touch, so the test can delete them. */
export function tracked(backend: Backend, names: Set<string>): Backend {
  return new Proxy(backend, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        for (const a of args) {
          if (Array.isArray(a)) for (const x of a) record(names, x);
          else record(names, a);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
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

/** `rabbitmqctl list_connections` rows (`channels`, `client_properties`) of connections named `name`. */
export async function connectionsNamed(name: string): Promise<{ pid: string; channels: number }[]> {
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    '-q',
    '--no-table-headers',
    'pid',
    'channels',
    'client_properties',
  ]);
  return stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`))
    .map((line) => {
      const [pid, channels] = line.split('\t');
      return { pid: pid as string, channels: Number(channels) };
    });
}

/** Closes, from the server side, every connection named `name` (as `rabbitmqctl close_connection` does). */
export async function closeConnectionsNamed(name: string): Promise<number> {
  const rows = await connectionsNamed(name);
  for (const { pid } of rows)
    await run('rabbitmqctl', ['close_connection', pid, 'closed by a machinery test']);
  return rows.length;
}
