import {
  positiveMs,
  type ReconnectOptions,
  resolveAmqpUrls,
  resolveReconnect,
} from '@machinery/amqp-connection';
import { type Logger, MachineryError } from '@machinery/core';
import type { ChannelModel, SocketOptions } from 'amqplib';

/** Options for {@link AmqpBackend}. Every field is optional; the defaults are Go Machinery's. */
export interface AmqpBackendOptions {
  /** RabbitMQ URL (default `amqp://guest:guest@localhost:5672/`); several are tried in turn. */
  url?: string | readonly string[];
  /**
   * An existing amqplib connection. The backend opens its channels on it and never closes it (nor
   * reconnects it); `url` and `clientOptions` are then ignored.
   */
  client?: ChannelModel;
  /** amqplib socket options (TLS, keep-alive…). */
  clientOptions?: SocketOptions;
  /** Client property `connection_name`, shown by RabbitMQ (default `machinery-backend`). */
  connectionName?: string;
  /**
   * Seconds a state is kept: every result queue is declared with `x-message-ttl` and `x-expires` of
   * this many ms, exactly as Go does (default 3600). Go workers and producers sharing the results must
   * use the same value: RabbitMQ refuses to re-declare a queue with other arguments.
   */
  resultsExpireIn?: number;
  /** How long an operation waits for a connection and for RabbitMQ's confirm (default 30 000 ms). */
  connectTimeoutMs?: number;
  /** Reconnect back-off. */
  reconnect?: ReconnectOptions;
  /** pino-compatible logger (default: warnings and errors to stderr). */
  logger?: Logger;
}

/** Options after defaults and validation. */
export interface ResolvedBackendOptions {
  readonly urls: readonly string[];
  readonly client: ChannelModel | undefined;
  readonly clientOptions: SocketOptions;
  readonly connectionName: string;
  readonly ttlMs: number;
  readonly connectTimeoutMs: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

function invalid(message: string): MachineryError {
  return new MachineryError('ERR_INVALID_ARGUMENT', message);
}

/**
 * Applies defaults and checks values.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid option.
 */
export function resolveBackendOptions(options: AmqpBackendOptions): ResolvedBackendOptions {
  const urls = resolveAmqpUrls(options.url, 'AmqpBackend');
  const seconds = options.resultsExpireIn ?? 3600;
  // Go declares the TTLs as 32-bit integers of milliseconds.
  if (!Number.isInteger(seconds) || seconds < 1 || seconds * 1000 > 2 ** 31 - 1) {
    throw invalid(
      `AmqpBackend option resultsExpireIn must be a whole number of seconds from 1 to 2147483, got ${seconds}.`,
    );
  }
  const { initialDelayMs, maxDelayMs } = resolveReconnect('AmqpBackend', options.reconnect);
  return {
    urls,
    client: options.client,
    clientOptions: options.clientOptions ?? {},
    connectionName: options.connectionName ?? 'machinery-backend',
    ttlMs: seconds * 1000,
    connectTimeoutMs: positiveMs('AmqpBackend', 'connectTimeoutMs', options.connectTimeoutMs, 30_000),
    initialDelayMs,
    maxDelayMs,
  };
}
