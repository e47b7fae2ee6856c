import {
  positiveMs,
  type ReconnectOptions,
  resolveAmqpUrls,
  resolveReconnect,
} from '@machinery/amqp-connection';
import { type Logger, MachineryError } from '@machinery/core';
import type { ChannelModel, SocketOptions } from 'amqplib';

/** Options for {@link AmqpControlPlane}. Every field is optional. */
export interface AmqpControlPlaneOptions {
  /** RabbitMQ URL (default `amqp://guest:guest@localhost:5672/`); several are tried in turn. */
  url?: string | readonly string[];
  /**
   * An existing amqplib connection. The control plane opens its channels on it and closes only those
   * (it never closes nor reconnects the connection); `url` and `clientOptions` are then ignored.
   */
  client?: ChannelModel;
  /** amqplib socket options (TLS, keep-alive…). */
  clientOptions?: SocketOptions;
  /** Client property `connection_name`, shown by RabbitMQ (default `machinery-control`). */
  connectionName?: string;
  /**
   * Put before the name of every exchange and queue (default none): `<prefix>machinery_control…`.
   * Processes share a control plane when they use the same prefix (tests use one each).
   */
  prefix?: string;
  /**
   * How long revocations and pauses stay readable by a process that starts later, in ms (default
   * 7 days): the `x-max-age` of the state stream and how far back a process reads it. A fact still in
   * force is rewritten by a running process once it is half that old, so a pause outlives the
   * retention as long as some process watches the control plane. Every process on the same prefix
   * must use the same value: RabbitMQ refuses to re-declare the stream with another one.
   */
  stateRetentionMs?: number;
  /** How long an operation waits for a connection and for RabbitMQ's answers (default 30 000 ms). */
  connectTimeoutMs?: number;
  /** Reconnect back-off. */
  reconnect?: ReconnectOptions;
  /** pino-compatible logger (default: warnings and errors to stderr). */
  logger?: Logger;
}

/** Options after defaults and validation. */
export interface ResolvedControlOptions {
  readonly urls: readonly string[];
  readonly client: ChannelModel | undefined;
  readonly clientOptions: SocketOptions;
  readonly connectionName: string;
  readonly prefix: string;
  readonly stateRetentionMs: number;
  readonly connectTimeoutMs: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

const DAY_MS = 86_400_000;

/**
 * Applies defaults and checks values.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid option.
 */
export function resolveControlOptions(options: AmqpControlPlaneOptions): ResolvedControlOptions {
  const urls = resolveAmqpUrls(options.url, 'AmqpControlPlane');
  const prefix = options.prefix ?? '';
  // Queue names are at most 255 bytes; the longest one adds a task UUID to the prefix.
  if (typeof prefix !== 'string' || Buffer.byteLength(prefix) > 120) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'AmqpControlPlane option prefix must be a string of at most 120 bytes (queue names are limited to 255).',
    );
  }
  const stateRetentionMs = positiveMs(
    'AmqpControlPlane',
    'stateRetentionMs',
    options.stateRetentionMs,
    7 * DAY_MS,
  );
  if (stateRetentionMs < 1000) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `AmqpControlPlane option stateRetentionMs must be at least 1000 ms (RabbitMQ counts stream ages in seconds), got ${stateRetentionMs}.`,
    );
  }
  const { initialDelayMs, maxDelayMs } = resolveReconnect('AmqpControlPlane', options.reconnect);
  return {
    urls,
    client: options.client,
    clientOptions: options.clientOptions ?? {},
    connectionName: options.connectionName ?? 'machinery-control',
    prefix,
    stateRetentionMs,
    connectTimeoutMs: positiveMs('AmqpControlPlane', 'connectTimeoutMs', options.connectTimeoutMs, 30_000),
    initialDelayMs,
    maxDelayMs,
  };
}
