import type { Logger } from '@machinery/core';
import type { Client, ClientOptions, ServerOptions } from 'memjs';

/** Options for {@link MemcacheBackend}. */
export interface MemcacheBackendOptions {
  /**
   * Servers as memjs and Go Machinery list them: `host:port,host:port` (`user:pass@host:port` for
   * SASL); a leading `memcache://` is accepted. Default `127.0.0.1:11211`.
   */
  servers?: string;
  /** An existing memjs client; the backend uses it as it is and never closes it. */
  client?: Client;
  /** Options for the memjs client the backend creates (timeouts, retries, keep-alive…). */
  clientOptions?: ClientOptions & ServerOptions;
  /** Seconds a state or group is kept after its last write (default 3600, as Go). */
  resultsExpireIn?: number;
  /** Prefix of every key (default `''`: Go Machinery's layout, keys are the bare UUIDs). */
  prefix?: string;
  /** Logger (default: `defaultLogger()` from core). */
  logger?: Logger;
}
