import type { Logger } from '@machinery/core';
import type { Client, ClientOptions, ServerOptions } from 'memjs';

/** How to reach memcached: shared by {@link MemcacheBackendOptions} and {@link MemcacheControlPlaneOptions}. */
export interface MemcacheConnectionOptions {
  /**
   * Servers as memjs and Go Machinery list them: `host:port,host:port` (`user:pass@host:port` for
   * SASL); a leading `memcache://` is accepted. Default `127.0.0.1:11211`.
   */
  servers?: string;
  /** An existing memjs client; it is used as it is and never closed. */
  client?: Client;
  /** Options for the memjs client created from `servers` (timeouts, retries, keep-alive…). */
  clientOptions?: ClientOptions & ServerOptions;
}

/** Options for {@link MemcacheBackend}. */
export interface MemcacheBackendOptions extends MemcacheConnectionOptions {
  /** Seconds a state or group is kept after its last write (default 3600, as Go). */
  resultsExpireIn?: number;
  /** Prefix of every key (default `''`: Go Machinery's layout, keys are the bare UUIDs). */
  prefix?: string;
  /** Logger (default: `defaultLogger()` from core). */
  logger?: Logger;
}

/** Options for {@link MemcacheControlPlane}. */
export interface MemcacheControlPlaneOptions extends MemcacheConnectionOptions {
  /** Prefix of every key, before `machinery_control:` (default `''`). */
  prefix?: string;
  /** Logger for failures of the background polls (default: `defaultLogger()` from core). */
  logger?: Logger;
  /**
   * How often, in ms, a control plane with listeners reads the announcement and event counters
   * (default 200): a revocation or pause reaches a listening worker within about this long.
   */
  pollIntervalMs?: number;
  /**
   * How long, in ms, an announcement or a batch of task events stays readable (default 60 000). A
   * follower that cannot read for longer misses what expired meanwhile (counted in `skippedEntries`).
   */
  logTtlMs?: number;
  /**
   * The most entries a follower reads back (default 1000): one further behind — memcached was out of
   * reach, or a burst outran it — skips to the newest and counts the rest in `skippedEntries`.
   */
  maxCatchUp?: number;
}

/** Options for {@link MemcacheFlowControl}. */
export interface MemcacheFlowControlOptions extends MemcacheConnectionOptions {
  /** Prefix of every key, before `machinery_flow:` (default `''`). */
  prefix?: string;
  /** Logger for memjs's chatter (default: `defaultLogger()` from core). */
  logger?: Logger;
}
