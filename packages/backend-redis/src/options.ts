import type { Logger } from '@machinery/core';
import type { Cluster, Redis, RedisOptions } from 'ioredis';

/** How a backend or lock reaches Redis. */
export interface RedisConnectionOptions {
  /**
   * Connection URL, e.g. `redis://:password@127.0.0.1:6379/0` or `rediss://user:pass@host:6380` (TLS
   * and ACL username/password are read from the URL). Default `redis://127.0.0.1:6379`. Ignored when
   * `client` is given.
   */
  url?: string;
  /**
   * An existing ioredis client: a `Redis` (standalone or Sentinel) or a `Cluster`, used as it is and
   * never closed. A `Cluster` needs a `prefix` with a hash tag so that group reads stay in one slot.
   */
  client?: Redis | Cluster;
  /** Options for the ioredis client created from `url` (`sentinels`, `tls`, `username`, `password`, `db`…). */
  clientOptions?: RedisOptions;
  /**
   * Prefix of every key (default `''`: Go Machinery's layout, `<UUID>` and `<groupUUID>`). A prefix
   * with a hash tag (`{results}:`) puts every key in one Redis Cluster slot.
   */
  prefix?: string;
}

/** Options for {@link RedisBackend}. */
export interface RedisBackendOptions extends RedisConnectionOptions {
  /** Seconds a state or group is kept after its last write (default 3600, Go's `ResultsExpireIn`). */
  resultsExpireIn?: number;
  /**
   * Name of Go Machinery's global chord mutex key (default `TriggerChordMutex`, under the prefix).
   * `triggerChord` waits while a Go worker holds it, so mixed Go/TypeScript fleets trigger a chord once.
   */
  chordMutexKey?: string;
  /** Logger for background failures (default: warnings and errors to stderr). */
  logger?: Logger;
}

/** Options for {@link RedisLock}. */
export type RedisLockOptions = RedisConnectionOptions;

/** Options for {@link RedisFlowControl}. */
export type RedisFlowControlOptions = RedisConnectionOptions;
