import { MachineryError, redactText } from '@machinery/core';

/**
 * Wraps a failure of the database (connection refused or lost, permission denied, …) as a
 * `MachineryError` with code `ERR_CONNECTION`: `<what> failed on PostgreSQL at <where>: <reason>
 * (SQLSTATE xxxxx). <hint>`, credentials redacted; the original error stays available as `cause`.
 *
 * @param what - what was attempted, capitalised (`Publishing task "add"`).
 * @param where - where the database is, already redacted ({@link PostgresPool.where}).
 */
export function postgresError(what: string, where: string, err: unknown): MachineryError {
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // pg puts the server's SQLSTATE on `code`; socket errors carry Node codes (ECONNREFUSED), already in the message.
  const sqlState = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? ` (SQLSTATE ${e.code})` : '';
  return new MachineryError(
    'ERR_CONNECTION',
    `${what} failed on PostgreSQL at ${where}: ${redactText(message)}${sqlState}. ` +
      'Check that the server is reachable and that the role may use the schema and table.',
    { cause: err },
  );
}

/** An error as one short text for a log line, credentials redacted. */
export function describePostgresError(err: unknown): string {
  return redactText(err instanceof Error ? err.message : String(err));
}
