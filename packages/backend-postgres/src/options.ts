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

/** Options for {@link PostgresControlPlane}. Every field is optional. */
export interface PostgresControlPlaneOptions {
  /**
   * Connection URL, e.g. `postgres://user:password@127.0.0.1:5432/app`. Without it (and without
   * `pool`), the `pg` client reads the usual `PG*` environment variables. Ignored when `pool` is given.
   */
  url?: string;
  /**
   * An existing `pg` pool. The control plane uses it as it is and never ends it; once something
   * listens (a worker, an event follower) it keeps one of its connections checked out for `LISTEN`.
   */
  pool?: Pool;
  /** Options for the `pg` pool the control plane creates (`ssl`, `max`, `password`…); they override the URL. */
  clientOptions?: PoolConfig;
  /** Schema of the control tables, created on first use when missing (default `public`). */
  schema?: string;
  /**
   * Prefix of the five table names (default `machinery_`): `<prefix>revocations`,
   * `<prefix>paused_queues`, `<prefix>workers`, `<prefix>task_events`, `<prefix>task_progress`.
   */
  tablePrefix?: string;
  /**
   * Task events kept in the events table (default 10 000): each publish deletes the older ones, so
   * the table stays bounded whatever the load. A follower that falls further behind skips those.
   */
  maxEvents?: number;
  /** Logger for failures of the background `LISTEN` connection and readers (default: warnings and errors to stderr). */
  logger?: Logger;
}
