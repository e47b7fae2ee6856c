import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REDIS_URL } from '@machinery/test-services';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bin.js');

/** What one run of the built binary printed, and how it ended. */
export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the process had to be killed: it hung. */
  readonly killed: boolean;
}

// Far above the slowest legitimate run (a 1 s connect timeout plus closing): a run that reaches it hung.
const HANG_MS = 20_000;

/**
 * Runs `node packages/cli/dist/bin.js …args` as a user would, with only `env` (plus PATH) in its
 * environment, and resolves once it exits or is killed for hanging.
 */
export function machinery(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: HANG_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const killed = child.killed || (err !== null && 'killed' in err && err.killed === true);
        resolve({ code: child.exitCode, stdout, stderr, killed });
      },
    );
  });
}

/** The shared Redis, database 9: `requeue` moves every dead letter of a database, so the CLI tests keep their own. */
export const REDIS = (() => {
  const u = new URL(REDIS_URL);
  u.pathname = '/9';
  return u.toString();
})();

/** The shared RabbitMQ. */
export const AMQP = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

/** The SQS-protocol server (fauxqs), which accepts any credentials. */
export const SQS = `sqs://test:test@${process.env.SQS_ENDPOINT?.replace(/^https?:\/\//, '') ?? '127.0.0.1:4566'}?region=us-east-1`;

/** The shared memcached. */
export const MEMCACHE = `memcache://${process.env.MEMCACHE_SERVERS ?? '127.0.0.1:11211'}`;

/** A queue name no other test uses. */
export function uniqueQueue(label: string): string {
  return `cli_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}
