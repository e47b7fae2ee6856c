import { MachineryError } from '@machinery/core';
import { type Connection, connectLabelled } from './connect.js';
import { ENV_LABELS } from './labels.js';
import type { AmqpExchangeType, ConnectOptions } from './options.js';

/** `CONTROL_URL` values that mean "no control plane". */
const NO_CONTROL = ['none', 'false'];

const EXCHANGE_TYPES: readonly AmqpExchangeType[] = ['direct', 'topic', 'fanout', 'headers'];

/**
 * Reads connection settings from environment variables (Go Machinery's names where it has them):
 *
 * | Variable | Option |
 * |---|---|
 * | `BROKER_URL` (required) | `broker` |
 * | `RESULT_BACKEND_URL` | `backend` |
 * | `LOCK_URL` | `lock` |
 * | `CONTROL_URL` (`none` or `false`: no control plane) | `control` |
 * | `QUEUE` | `defaultQueue` |
 * | `AMQP_EXCHANGE`, `AMQP_EXCHANGE_TYPE`, `AMQP_BINDING_KEY` | `amqp.exchange`, `.exchangeType`, `.bindingKey` |
 *
 * Empty variables count as unset.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` when `BROKER_URL` is unset or `AMQP_EXCHANGE_TYPE` is not an exchange type.
 */
export function optionsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConnectOptions {
  const get = (name: string) => env[name]?.trim() || undefined;
  const broker = get('BROKER_URL');
  if (broker === undefined) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'BROKER_URL is not set: set it to redis://, amqp://, postgres://, sqs:// or https://sqs…, or to memory:// for one process.',
    );
  }
  const exchangeType = get('AMQP_EXCHANGE_TYPE');
  if (exchangeType !== undefined && !EXCHANGE_TYPES.includes(exchangeType as AmqpExchangeType)) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `AMQP_EXCHANGE_TYPE=${exchangeType} is not an exchange type: use ${EXCHANGE_TYPES.join(', ')}.`,
    );
  }
  const options: ConnectOptions = { broker };
  const backend = get('RESULT_BACKEND_URL');
  if (backend !== undefined) options.backend = backend;
  const lock = get('LOCK_URL');
  if (lock !== undefined) options.lock = lock;
  const control = get('CONTROL_URL');
  if (control !== undefined) options.control = NO_CONTROL.includes(control.toLowerCase()) ? false : control;
  const queue = get('QUEUE');
  if (queue !== undefined) options.defaultQueue = queue;
  const amqp = Object.fromEntries(
    Object.entries({
      exchange: get('AMQP_EXCHANGE'),
      exchangeType,
      bindingKey: get('AMQP_BINDING_KEY'),
    }).filter(([, v]) => v !== undefined),
  );
  if (Object.keys(amqp).length > 0) options.amqp = amqp;
  return options;
}

/**
 * {@link connect} from environment variables ({@link optionsFromEnv}); `overrides` win over them
 * (a logger, probe settings). Errors name the variables: `RESULT_BACKEND_URL=memcache://… needs
 * @machinery/backend-memcache: npm install @machinery/backend-memcache`.
 */
export function connectFromEnv(
  overrides: Partial<ConnectOptions> = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Connection> {
  return connectLabelled({ ...optionsFromEnv(env), ...overrides }, ENV_LABELS);
}
