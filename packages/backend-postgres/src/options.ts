import type { Logger } from '@machinery/core';
import type { Pool, PoolConfig } from 'pg';

/** Options for {@link PostgresBackend}. Every field is optional. */
export interface PostgresBackendOptions {
  /**
   * Connection URL, e.g. `postgres://user:password@127.0.0.1:5432/app`. Without it (and without
   * `pool`), the `pg` client reads the usual `PG*` environment variables. Ignored when `pool` is given.
   */
  url?: string;
  /**
   * An existing `pg` pool. The backend uses it as it is and never ends it; while results are awaited
   * it keeps one of its connections checked out for `LISTEN`.
   */
  pool?: Pool;
  /** Options for the `pg` pool the backend creates (`ssl`, `max`, `password`…); they override the URL. */
  clientOptions?: PoolConfig;
  /** Schema of the results table, created on first use when missing (default `public`). */
  schema?: string;
  /** Name of the results table (default `machinery_results`). */
  table?: string;
  /** Seconds a state or group is kept after its last write (default 3600, as Go). */
  resultsExpireIn?: number;
  /** Logger for background failures (default: warnings and errors to stderr). */
  logger?: Logger;
}
