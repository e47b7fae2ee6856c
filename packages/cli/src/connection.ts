import {
  type Connection,
  type ConnectOptions,
  connect,
  connectFromEnv,
  optionsFromEnv,
} from '@machinery/connect';
import { type Logger, MachineryError, silentLogger } from '@machinery/core';
import type { OptionValues } from './command.js';
import { positiveInt, stringOption } from './values.js';

/** Environment variables the CLI reads (those of `connectFromEnv`). */
export type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Opens the broker, backend and lock for a command, and the control plane when `extra.control`:
 * `--broker`, `--backend`, `--lock`, `--control` win field by field over `BROKER_URL`,
 * `RESULT_BACKEND_URL`, `LOCK_URL`, `CONTROL_URL` (and `QUEUE`, `AMQP_EXCHANGE*` from the
 * environment). Every service is probed, so one that is down or refuses the credentials rejects
 * within `--connect-timeout` with `ERR_CONNECTION` instead of hanging.
 */
export async function openConnection(
  options: OptionValues,
  env: Env,
  extra: { defaultQueue?: string; logger?: Logger; control?: boolean } = {},
): Promise<Connection> {
  const flags = {
    broker: stringOption(options, 'broker'),
    backend: stringOption(options, 'backend'),
    lock: stringOption(options, 'lock'),
    control: stringOption(options, 'control'),
  };
  const common: Partial<ConnectOptions> = {
    // The adapters' own log lines would interleave with tables; failures reach the user as errors.
    logger: extra.logger ?? silentLogger,
    probeTimeoutMs: positiveInt(options, 'connect-timeout', DEFAULT_CONNECT_TIMEOUT_MS),
  };
  if (extra.defaultQueue !== undefined) common.defaultQueue = extra.defaultQueue;
  // A command that reads no control plane opens none: one connection and one check fewer.
  if (extra.control !== true) common.control = false;

  if (Object.values(flags).every((f) => f === undefined)) {
    if (!env.BROKER_URL?.trim()) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        'No broker: pass --broker redis://host:6379 (or amqp://, sqs://, …) or set BROKER_URL.',
      );
    }
    // Errors then name the variables (BROKER_URL=redis://…), which is what the user set.
    return connectFromEnv(common, env);
  }
  const broker = flags.broker ?? env.BROKER_URL?.trim();
  if (!broker) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'No broker: pass --broker redis://host:6379 (or amqp://, sqs://, …) or set BROKER_URL.',
    );
  }
  // --control goes through CONTROL_URL so that `none` means what it means there.
  const fromEnv = optionsFromEnv({
    ...env,
    BROKER_URL: broker,
    ...(flags.control !== undefined ? { CONTROL_URL: flags.control } : {}),
  });
  const merged: ConnectOptions = { ...fromEnv, ...common, broker };
  if (flags.backend !== undefined) merged.backend = flags.backend;
  if (flags.lock !== undefined) merged.lock = flags.lock;
  return connect(merged);
}
