import { type ChildProcess, spawn } from 'node:child_process';
import { eventually } from '@machinery/testing';
import { Redis } from 'ioredis';

/** `redis-server` arguments for a test server: loopback only, nothing written to disk, in the foreground. */
export const EPHEMERAL_REDIS_ARGS: readonly string[] = [
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--daemonize',
  'no',
];

/**
 * Starts `redis-server` with `args` on loopback `port`, without persistence, and waits until it
 * answers PING.
 */
export async function launchRedis(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), ...EPHEMERAL_REDIS_ARGS, ...args], {
    stdio: 'ignore',
  });
  const probe = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        if (probe.status !== 'ready') {
          probe.disconnect();
          await probe.connect();
        }
        await probe.ping();
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } finally {
    probe.disconnect();
  }
  return child;
}
