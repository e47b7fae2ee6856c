import type { Logger } from '@machinery/core';

/** RabbitMQ exchange types (Go Machinery's `AMQP.ExchangeType`). */
export type AmqpExchangeType = 'direct' | 'topic' | 'fanout' | 'headers';

/** Exchange settings for an `amqp://` broker; unset fields keep the broker's defaults. */
export interface AmqpExchangeOptions {
  /** Exchange tasks are published to (default `machinery_exchange`). */
  exchange?: string;
  /** Its type (default `direct`). */
  exchangeType?: AmqpExchangeType;
  /** Key binding the default queue to the exchange (default: the queue's name). */
  bindingKey?: string;
}

/** What {@link connect} builds. Only `broker` is required. */
export interface ConnectOptions {
  /**
   * Broker URL: `memory://`, `redis://`, `rediss://`, `amqp://`, `amqps://`,
   * `sqs://[key:secret@]host:port?region=…`, `https://sqs.<region>.amazonaws.com/<account>` or
   * `postgres://user:password@host:port/db` (`postgresql://` too).
   */
  broker: string;
  /**
   * Result backend URL: `memory://`, `redis://`, `rediss://`, `amqp://`, `amqps://`,
   * `memcache://host:port[,host:port]` or `postgres://…` (`postgresql://`). Default: the broker's URL
   * when the broker's technology can store results (memory, Redis, AMQP, PostgreSQL); an SQS broker
   * needs one.
   */
  backend?: string;
  /**
   * Lock URL for periodic schedules: `memory://`, `redis://` or `rediss://`. Default: the backend's
   * URL when it is Redis, else the broker's when it is Redis, else `memory://` (every process then
   * fires every schedule).
   */
  lock?: string;
  /**
   * Control plane URL (revocations, paused queues, live workers, task events, stored progress):
   * `memory://`, `redis://`, `rediss://`, `amqp://`, `amqps://`, `memcache://host:port[,host:port]`,
   * `postgres://…` (`postgresql://`), or `false` for none. Default: the result backend's URL, so the
   * control plane lives on the backend's server.
   */
  control?: string | false;
  /** pino-compatible logger given to every adapter (default: warnings and errors to stderr). */
  logger?: Logger;
  /** Queue of signatures without a routing key, and of workers without a `queue` (broker default when unset). */
  defaultQueue?: string;
  /** Exchange settings, used when the broker is `amqp://` or `amqps://`. */
  amqp?: AmqpExchangeOptions;
  /**
   * Check that each service answers before resolving (default `true`): a service that is down, a
   * refused password or an unknown vhost then rejects `connect()` instead of surfacing on first use.
   */
  probe?: boolean;
  /** How long each check may take, in ms (default 5000). */
  probeTimeoutMs?: number;
}
