import { DEFAULT_MAX_MESSAGE_BYTES, type Logger, MachineryError, type WireFormat } from '@machinery/core';
import { checkPostgresName } from '@machinery/postgres-connection';
import type { Pool, PoolConfig } from 'pg';

/** Options for {@link PostgresBroker}. Every field is optional. */
export interface PostgresBrokerOptions {
  /**
   * Connection URL, e.g. `postgres://user:password@127.0.0.1:5432/app`. Without it (and without
   * `pool`), the `pg` client reads the usual `PG*` environment variables. Ignored when `pool` is given.
   */
  url?: string;
  /**
   * An existing `pg` pool. The broker uses it as it is and never ends it; it keeps one of its
   * connections checked out for `LISTEN` while it consumes.
   */
  pool?: Pool;
  /** Options for the `pg` pool the broker creates (`ssl`, `max`, `password`…); they override the URL. */
  clientOptions?: PoolConfig;
  /** Schema of the task table, created on first use when missing (default `public`). */
  schema?: string;
  /**
   * Name of the task table (default `machinery_tasks`). One table holds every queue of one broker,
   * its delayed tasks, leases and dead letters; brokers with different tables never see each other.
   */
  table?: string;
  /** Queue for signatures without a routing key (default `machinery_tasks`, as Go). */
  defaultQueue?: string;
  /**
   * How long a delivery stays leased without renewal, in ms (default 10 000). The broker renews the
   * leases it holds every third of this; a crashed worker's tasks are handed out again at most this
   * long after it died.
   */
  leaseMs?: number;
  /**
   * Longest pause between two looks at an idle queue, in ms (default 1000). Publishes through a
   * broker wake consumers at once (`NOTIFY`), and a consumer also wakes for the earliest ETA or lease
   * deadline it knows of; the poll catches rows written by other means and a lost `LISTEN` connection.
   */
  pollIntervalMs?: number;
  /** Most tasks taken in one claim (default 100, at most 1000). */
  batchSize?: number;
  /** Largest accepted message in bytes, on publish and on consume (default 1 MiB). */
  maxMessageBytes?: number;
  /**
   * How task messages are written: `compact` (default) leaves out fields holding Go's zero value;
   * `go` writes every field, byte for byte what a Go producer sends.
   */
  wireFormat?: WireFormat;
  /** Logger for background failures (default: warnings and errors to stderr). */
  logger?: Logger;
}

/** The options with every default applied. */
export interface ResolvedOptions {
  readonly schema: string;
  readonly table: string;
  readonly defaultQueue: string;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  readonly maxMessageBytes: number;
  readonly wireFormat: WireFormat;
}

/** Default lease: a crashed worker's tasks run again elsewhere within 10 s. */
export const DEFAULT_LEASE_MS = 10_000;
/** Upper bound of `batchSize`: keeps one claim statement and its reply small. */
export const MAX_BATCH_SIZE = 1000;

function invalid(message: string): MachineryError {
  return new MachineryError('ERR_INVALID_ARGUMENT', `PostgresBroker option ${message}`);
}

function positiveInt(
  name: string,
  value: number | undefined,
  fallback: number,
  min = 1,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer between ${min} and ${max}, got ${value}.`);
  }
  return value;
}

/** Checks the options and applies the defaults. @throws MachineryError `ERR_INVALID_ARGUMENT`. */
export function resolveOptions(options: PostgresBrokerOptions): ResolvedOptions {
  const defaultQueue = options.defaultQueue ?? 'machinery_tasks';
  if (defaultQueue === '') throw invalid('defaultQueue must not be empty.');
  const wireFormat = options.wireFormat ?? 'compact';
  if (wireFormat !== 'compact' && wireFormat !== 'go') {
    throw invalid(`wireFormat must be 'compact' or 'go', got ${String(wireFormat)}.`);
  }
  return {
    schema: checkPostgresName('PostgresBroker', 'schema', options.schema, 'public'),
    table: checkPostgresName('PostgresBroker', 'table', options.table, 'machinery_tasks'),
    defaultQueue,
    leaseMs: positiveInt('leaseMs', options.leaseMs, DEFAULT_LEASE_MS, 100),
    pollIntervalMs: positiveInt('pollIntervalMs', options.pollIntervalMs, 1000),
    batchSize: positiveInt('batchSize', options.batchSize, 100, 1, MAX_BATCH_SIZE),
    maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
    wireFormat,
  };
}
