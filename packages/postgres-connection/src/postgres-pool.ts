import { type Logger, redactUrl } from '@machinery/core';
import { Pool, type PoolConfig } from 'pg';
import { describePostgresError } from './postgres-errors.js';

/** How an adapter is told which database to use: the connection fields of its options. */
export interface PostgresPoolOptions {
  /**
   * Connection URL, e.g. `postgres://user:password@127.0.0.1:5432/app`. Without it (and without
   * `pool`), the `pg` client reads the usual `PG*` environment variables. Ignored when `pool` is given.
   */
  url?: string | undefined;
  /** An existing `pg` pool, used as it is and never ended. */
  pool?: Pool | undefined;
  /** Options for the pool created otherwise (`ssl`, `max`, `password`…); they override the URL. */
  clientOptions?: PoolConfig | undefined;
}

/** The pool an adapter uses, whether it must end it, and how to name it in messages. */
export interface PostgresPool {
  /** The pool passed in, or the one created. */
  readonly pool: Pool;
  /** True when the pool was created here: the adapter ends it on `close()`, and only then. */
  readonly owned: boolean;
  /** Where the database is, for error messages: the URL with its password as `***`, or what stands for it. */
  readonly where: string;
}

/**
 * Takes the pool given in `options`, or creates one from `url` and `clientOptions`. A created pool
 * reports the failures of its idle connections (a server restart, a failover) to `logger` at `warn`:
 * without a listener `pg` would throw them at the process.
 */
export function openPostgresPool(options: PostgresPoolOptions, logger: Logger): PostgresPool {
  if (options.pool) return { pool: options.pool, owned: false, where: 'the given pool' };
  const pool = new Pool({
    ...(options.url !== undefined ? { connectionString: options.url } : {}),
    ...options.clientOptions,
  });
  pool.on('error', (err) => {
    logger.warn(
      { err: describePostgresError(err) },
      'an idle PostgreSQL connection failed; the pool replaces it',
    );
  });
  return {
    pool,
    owned: true,
    where: options.url !== undefined ? redactUrl(options.url) : 'the server named by the PG* environment',
  };
}
