import type { Logger, WireFormat } from '@machinery/core';
import type { Cluster, Redis, RedisOptions } from 'ioredis';

/** Options for {@link RedisBroker}. Every field is optional; the defaults are Go Machinery's layout. */
export interface RedisBrokerOptions {
  /**
   * Connection URL, e.g. `redis://:password@127.0.0.1:6379/0`, `rediss://user:pass@host:6380` (TLS
   * and ACL username/password are read from the URL). Default `redis://127.0.0.1:6379`. Ignored when
   * `client` is given.
   */
  url?: string;
  /**
   * An existing ioredis client: a `Redis` (standalone or Sentinel) or a `Cluster`. The broker uses it
   * as it is, never closes it, and opens one duplicate of it per consumer for blocking waits.
   * A `Cluster` needs a `prefix` with a hash tag (`{machinery}:`) so every key shares one slot.
   */
  client?: Redis | Cluster;
  /**
   * Options for the ioredis client the broker creates (`sentinels` + `name` for Sentinel, `tls`,
   * `username`, `password`, `db`, `retryStrategy`…). They override the URL and the broker's defaults.
   */
  clientOptions?: RedisOptions;
  /**
   * Prefix of every key, e.g. `{machinery}:` (default `''`: Go Machinery's layout, queues are plain
   * lists named by routing key). A prefix with a hash tag puts every key in one Redis Cluster slot.
   */
  prefix?: string;
  /** Queue for signatures without a routing key (default `machinery_tasks`, as Go). */
  defaultQueue?: string;
  /** Sorted set of delayed tasks, shared by all queues (default `delayed_tasks`, as Go). */
  delayedTasksKey?: string;
  /**
   * How long a delivery stays leased without renewal, in ms (default 10 000). Leases are renewed every
   * third of this while the task runs; a crashed worker's tasks are handed out again at most this
   * long after it died.
   */
  leaseMs?: number;
  /**
   * Longest pause between two sweeps for expired leases, in ms (default `leaseMs / 2`). A sweep is also
   * scheduled for the moment the earliest known lease expires, so redelivery is prompt either way.
   */
  reaperIntervalMs?: number;
  /** Most tasks taken in one round trip (default 500, at most 2000). */
  batchSize?: number;
  /**
   * Longest pause between two checks for due delayed tasks, in ms (default 40). A check is also
   * scheduled for the earliest known ETA, so a delay longer than this is met to the millisecond; only
   * tasks published elsewhere with a delay shorter than this can be up to this late.
   */
  delayedPollMs?: number;
  /** How long one blocking wait for a task lasts before it is renewed, in ms (default 5000). */
  blockTimeoutMs?: number;
  /** Largest accepted message in bytes, on publish and on consume (default 1 MiB). */
  maxMessageBytes?: number;
  /**
   * How task messages are written: `compact` (default) leaves out fields holding Go's zero value — a
   * Go worker reads it as the same message, at a fraction of the size in Redis; `go` writes every
   * field, byte for byte what a Go producer pushes.
   */
  wireFormat?: WireFormat;
  /**
   * Highest task priority honoured (1–10; default 0: priorities off, every task on Go's queue list).
   * A signature's `priority` from 1 up is then delivered before lower ones — strictly: a lower
   * priority waits as long as higher ones are waiting — and a priority above this counts as this,
   * as RabbitMQ's `x-max-priority` does. Priority 0 stays on Go's key; higher ones wait in lists of
   * their own that Go workers do not read. Give every producer and worker of a queue the same value.
   */
  maxPriority?: number;
  /** Logger for background failures (default: warnings and errors to stderr). */
  logger?: Logger;
}

/** The options with every default applied. */
export interface ResolvedBrokerOptions {
  readonly prefix: string;
  readonly defaultQueue: string;
  readonly delayedTasksKey: string;
  readonly leaseMs: number;
  readonly reaperIntervalMs: number;
  readonly batchSize: number;
  readonly delayedPollMs: number;
  readonly blockTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly wireFormat: WireFormat;
  /** 0 when priorities are off. */
  readonly maxPriority: number;
}

/** Most priority levels a Redis broker keeps (one list each; RabbitMQ advises at most 10 too). */
export const MAX_PRIORITY_LEVELS = 10;

/** Default lease: a crashed worker's tasks run again elsewhere within 10 s. */
export const DEFAULT_LEASE_MS = 10_000;
/** Upper bound of `batchSize`: keeps each claim script short and within Lua's stack limits. */
export const MAX_BATCH_SIZE = 2000;
