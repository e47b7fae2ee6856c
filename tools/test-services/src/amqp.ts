import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type ChannelModel, connect } from 'amqplib';

const run = promisify(execFile);

/** RabbitMQ used by the tests (loopback only). */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

let admin: Promise<ChannelModel> | undefined;

/**
 * A connection for test plumbing (raw Go-style reads and publishes, clean-up), separate from the code
 * under test; opened on first use, one per test file.
 */
export function adminConnection(): Promise<ChannelModel> {
  admin ??= connect(AMQP_URL, { clientProperties: { connection_name: 'machinery-tests-admin' } });
  return admin;
}

/** Closes the plumbing connection (call in `afterAll`). */
export async function closeAdmin(): Promise<void> {
  const a = admin;
  admin = undefined;
  if (a) await (await a).close().catch(() => {});
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

/** `rabbitmqctl list_connections` rows (pid, number of channels) of the connections named `name`. */
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

/**
 * Closes, from the server side, every RabbitMQ connection whose `connection_name` is `name` — what an
 * operator's `rabbitmqctl close_connection` or a RabbitMQ node shutting down does to a client.
 * Returns how many were closed.
 */
export async function closeConnectionsNamed(name: string): Promise<number> {
  const rows = await connectionsNamed(name);
  for (const { pid } of rows)
    await run('rabbitmqctl', ['close_connection', pid, 'closed by a machinery test']);
  return rows.length;
}
