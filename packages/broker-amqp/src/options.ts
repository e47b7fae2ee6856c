import {
  positiveMs,
  type ReconnectOptions,
  resolveAmqpUrls,
  resolveReconnect,
} from '@machinery/amqp-connection';
import { DEFAULT_MAX_MESSAGE_BYTES, type Logger, MachineryError, type WireFormat } from '@machinery/core';
import type { ChannelModel, SocketOptions } from 'amqplib';

/**
 * The type of the task queues the broker declares: `classic` (Go Machinery's, the default) or
 * `quorum` (replicated, RabbitMQ's recommendation for durable queues).
 */
export type QueueType = 'classic' | 'quorum';

/** RabbitMQ exchange types a broker can publish through (Go Machinery's `AMQP.ExchangeType`). */
export type ExchangeType = 'direct' | 'topic' | 'fanout' | 'headers';

/** Options for {@link AmqpBroker}. Every field is optional; the defaults are Go Machinery's. */
export interface AmqpBrokerOptions {
  /**
   * RabbitMQ URL, e.g. `amqp://guest:guest@localhost:5672/` (the default). Several URLs are tried in
   * turn on every (re)connect, like Go's `MultipleBrokerSeparator`.
   */
  url?: string | readonly string[];
  /**
   * An existing amqplib connection (`await amqplib.connect(url)`). The broker opens its channels on it
   * and never closes it; it cannot reconnect it either, so when it closes, operations fail with
   * `ERR_CONNECTION`. `url` and `clientOptions` are then ignored.
   */
  client?: ChannelModel;
  /** amqplib socket options (TLS, keep-alive, `clientProperties`…). */
  clientOptions?: SocketOptions;
  /**
   * Name shown for the connection in RabbitMQ's management UI and `rabbitmqctl list_connections`
   * (client property `connection_name`; default `machinery-broker`).
   */
  connectionName?: string;
  /** Exchange tasks are published to (default `machinery_exchange`, durable). */
  exchange?: string;
  /** Its type (default `direct`). */
  exchangeType?: ExchangeType;
  /** Queue for signatures without a routing key, and the one workers consume (default `machinery_tasks`). */
  defaultQueue?: string;
  /**
   * Key binding the default queue to the exchange (default: the default queue's name). Go Machinery's
   * default is `machinery_task`, which leaves a stray queue behind (Go issues #483/#484); set it only to
   * match an existing Go deployment.
   */
  bindingKey?: string;
  /** Extra arguments of every task queue declaration (Go's `QueueDeclareArgs`), e.g. `{ 'x-queue-mode': 'lazy' }`. */
  queueDeclareArgs?: Readonly<Record<string, unknown>>;
  /** Extra arguments of every queue binding (Go's `QueueBindingArgs`), e.g. `{ 'x-match': 'any' }` for headers exchanges. */
  queueBindingArgs?: Readonly<Record<string, unknown>>;
  /**
   * Declares task queues with `x-max-priority` (1–255) so a signature's `priority` orders deliveries.
   * RabbitMQ fixes this when a queue is created: an existing queue keeps what it was declared with.
   */
  maxPriority?: number;
  /**
   * Type of the task queues (default `classic`). `quorum` declares them with `x-queue-type: quorum`:
   * replicated, and counting deliveries itself (`x-delivery-count`), so `deliveryLimit` can
   * dead-letter a poison message. With `maxPriority`, only RabbitMQ 4.3 and later accept the
   * declaration (strict priorities, up to 32 levels); older versions refuse it. RabbitMQ fixes the type when a queue is created: an existing classic queue cannot become
   * a quorum queue (RabbitMQ refuses the declaration); use a new queue name or move the tasks.
   */
  queueType?: QueueType;
  /**
   * Quorum queues only: how many times RabbitMQ hands a message back to its queue (a worker that died
   * holding it, a requeue) before it moves it to the dead-letter queue instead (`x-delivery-limit`);
   * a task runs at most `deliveryLimit + 1` times. Unset: RabbitMQ's default (none before 4.0, 20
   * from 4.0 on).
   */
  deliveryLimit?: number;
  /** Queue that keeps dead letters with their reason (default `machinery_dead_letters`). */
  deadLetterQueue?: string;
  /**
   * Number of binary delay levels (1–32, default 32). Delays up to `2^delayLevels − 1` ms (≈ 49.7 days
   * with 32) pass through the levels in one go; longer ones arrive at the end of that and are re-delayed
   * by the consuming broker.
   */
  delayLevels?: number;
  /** Largest accepted message body in bytes (default 1 MiB). */
  maxMessageBytes?: number;
  /**
   * How message bodies are written: `compact` (default) leaves out fields holding Go's zero value — Go
   * reads it as the same message, at a fraction of the size; `go` writes every field, byte for byte
   * what Go Machinery writes.
   */
  wireFormat?: WireFormat;
  /**
   * How long `publish()`/`publishMany()` wait, during a RabbitMQ outage, for a connection and for
   * RabbitMQ's confirms before rejecting with `ERR_CONNECTION` (default 30 000 ms).
   */
  publishTimeoutMs?: number;
  /** How long `consume()` and the inspection methods wait for a connection (default 30 000 ms). */
  connectTimeoutMs?: number;
  /** Reconnect back-off. */
  reconnect?: ReconnectOptions;
  /** pino-compatible logger (default: warnings and errors to stderr). */
  logger?: Logger;
}

/** Options after defaults and validation. */
export interface ResolvedBrokerOptions {
  readonly urls: readonly string[];
  readonly client: ChannelModel | undefined;
  readonly clientOptions: SocketOptions;
  readonly connectionName: string;
  readonly exchange: string;
  readonly exchangeType: ExchangeType;
  readonly defaultQueue: string;
  readonly bindingKey: string;
  readonly queueDeclareArgs: Readonly<Record<string, unknown>>;
  readonly queueBindingArgs: Readonly<Record<string, unknown>>;
  readonly priorities: boolean;
  readonly queueType: QueueType;
  readonly deadLetterQueue: string;
  readonly delayLevels: number;
  readonly maxMessageBytes: number;
  readonly wireFormat: WireFormat;
  readonly publishTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

const EXCHANGE_TYPES: readonly string[] = ['direct', 'topic', 'fanout', 'headers'];

function invalidArgument(message: string): MachineryError {
  return new MachineryError('ERR_INVALID_ARGUMENT', message);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  return positiveMs('AmqpBroker', name, value, fallback);
}

function name(option: string, value: string | undefined, fallback: string): string {
  const v = value ?? fallback;
  if (typeof v !== 'string' || v === '' || Buffer.byteLength(v) > 200) {
    throw invalidArgument(`AmqpBroker option ${option} must be a non-empty name of at most 200 bytes.`);
  }
  return v;
}

/**
 * Applies defaults and checks values.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid option.
 */
export function resolveBrokerOptions(options: AmqpBrokerOptions): ResolvedBrokerOptions {
  const urls = resolveAmqpUrls(options.url, 'AmqpBroker');
  const exchangeType = options.exchangeType ?? 'direct';
  if (!EXCHANGE_TYPES.includes(exchangeType)) {
    throw invalidArgument(
      `AmqpBroker option exchangeType must be one of ${EXCHANGE_TYPES.join(', ')}, got ${exchangeType}.`,
    );
  }
  const delayLevels = options.delayLevels ?? 32;
  if (!Number.isInteger(delayLevels) || delayLevels < 1 || delayLevels > 32) {
    throw invalidArgument(
      `AmqpBroker option delayLevels must be an integer from 1 to 32, got ${delayLevels}.`,
    );
  }
  const declareArgs: Record<string, unknown> = { ...options.queueDeclareArgs };
  if (options.maxPriority !== undefined) {
    if (!Number.isInteger(options.maxPriority) || options.maxPriority < 1 || options.maxPriority > 255) {
      throw invalidArgument(
        `AmqpBroker option maxPriority must be an integer from 1 to 255, got ${options.maxPriority}.`,
      );
    }
    declareArgs['x-max-priority'] = options.maxPriority;
  }
  const wireFormat = options.wireFormat ?? 'compact';
  if (wireFormat !== 'compact' && wireFormat !== 'go') {
    throw invalidArgument(
      `AmqpBroker option wireFormat must be 'compact' or 'go', got ${String(wireFormat)}.`,
    );
  }
  const defaultQueue = name('defaultQueue', options.defaultQueue, 'machinery_tasks');
  const deadLetterQueue = name('deadLetterQueue', options.deadLetterQueue, 'machinery_dead_letters');
  const queueType = options.queueType ?? 'classic';
  if (queueType !== 'classic' && queueType !== 'quorum') {
    throw invalidArgument(
      `AmqpBroker option queueType must be 'classic' or 'quorum', got ${String(queueType)}.`,
    );
  }
  if (queueType === 'quorum') {
    // x-max-priority is left to RabbitMQ: 4.3 and later order quorum queues by it, older versions
    // refuse the declaration (a clear ERR_INVALID_ARGUMENT on first use).
    declareArgs['x-queue-type'] = 'quorum';
    // RabbitMQ dead-letters a message past its delivery limit (and drops it without a dead-letter
    // exchange): send it to our dead-letter queue, where deadLetters() shows it with the reason.
    declareArgs['x-dead-letter-exchange'] ??= '';
    declareArgs['x-dead-letter-routing-key'] ??= deadLetterQueue;
  }
  if (options.deliveryLimit !== undefined) {
    if (queueType !== 'quorum') {
      throw invalidArgument(
        "AmqpBroker option deliveryLimit needs queueType 'quorum': classic queues do not count deliveries.",
      );
    }
    if (!Number.isInteger(options.deliveryLimit) || options.deliveryLimit < 1) {
      throw invalidArgument(
        `AmqpBroker option deliveryLimit must be a positive integer, got ${options.deliveryLimit}.`,
      );
    }
    declareArgs['x-delivery-limit'] = options.deliveryLimit;
  }
  const { initialDelayMs, maxDelayMs } = resolveReconnect('AmqpBroker', options.reconnect);
  return {
    urls,
    client: options.client,
    clientOptions: options.clientOptions ?? {},
    connectionName: options.connectionName ?? 'machinery-broker',
    exchange: name('exchange', options.exchange, 'machinery_exchange'),
    exchangeType,
    defaultQueue,
    bindingKey: options.bindingKey ?? defaultQueue,
    queueDeclareArgs: declareArgs,
    queueBindingArgs: { ...options.queueBindingArgs },
    priorities: declareArgs['x-max-priority'] !== undefined,
    queueType,
    deadLetterQueue,
    delayLevels,
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
    wireFormat,
    publishTimeoutMs: positive('publishTimeoutMs', options.publishTimeoutMs, 30_000),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 30_000),
    initialDelayMs,
    maxDelayMs,
  };
}
