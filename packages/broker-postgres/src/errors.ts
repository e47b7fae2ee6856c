import { MachineryError, redactText } from '@machinery/core';

/**
 * Wraps a failure of the database (connection refused or lost, permission denied, …) as a
 * `MachineryError` with code `ERR_CONNECTION`, naming what was attempted and where, with credentials
 * redacted; the original error stays available as `cause`.
 */
export function databaseError(what: string, where: string, err: unknown): MachineryError {
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const sqlState = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? ` (SQLSTATE ${e.code})` : '';
  return new MachineryError(
    'ERR_CONNECTION',
    `${what} failed on PostgreSQL at ${where}: ${redactText(message)}${sqlState}. ` +
      'Check that the server is reachable and that the role may use the schema and table.',
    { cause: err },
  );
}

/** A short text for logs. */
export function describeError(err: unknown): string {
  return redactText(err instanceof Error ? err.message : String(err));
}
