import { createHash } from 'node:crypto';
import { MachineryError } from '@machinery/core';
import { escapeIdentifier } from 'pg';

/** The names derived from one table of an adapter, quoted where SQL needs them quoted. */
export interface PostgresTable {
  /** The schema, unquoted. */
  readonly schema: string;
  /** The table, unquoted. */
  readonly name: string;
  /** `"schema"."table"`, quoted: safe to interpolate into SQL whatever the names hold. */
  readonly qualified: string;
  /**
   * The table's `LISTEN`/`NOTIFY` channel, `machinery_<first 20 hex digits of sha1("schema.table")>`:
   * channel names are identifiers of at most 63 bytes, and a hash keeps them short and distinct.
   */
  readonly channel: string;
  /** Key of the advisory lock that serialises the creation of this table ({@link createTables}). */
  readonly lockKey: string;
  /** `CREATE SCHEMA IF NOT EXISTS "schema"`. */
  readonly createSchema: string;
  /** A quoted index name for this table: its first 50 bytes or so, `_`, `suffix`. */
  index(suffix: string): string;
}

/** Names a table of an adapter. `schema` and `name` should have passed {@link checkPostgresName}. */
export function postgresTable(schema: string, name: string): PostgresTable {
  return {
    schema,
    name,
    qualified: `${escapeIdentifier(schema)}.${escapeIdentifier(name)}`,
    channel: `machinery_${createHash('sha1').update(`${schema}.${name}`).digest('hex').slice(0, 20)}`,
    lockKey: `machinery:${schema}.${name}`,
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`,
    index: (suffix) => escapeIdentifier(`${name.slice(0, 50)}_${suffix}`),
  };
}

/**
 * Checks a schema or table name option and applies its default. Names are quoted everywhere, so any
 * text is safe; but PostgreSQL cuts identifiers at 63 bytes, which would make two long names one table.
 *
 * @param owner - the class whose option it is, for the message (`PostgresBroker`).
 * @throws MachineryError `ERR_INVALID_ARGUMENT` when the name is empty, longer than 63 bytes or holds NUL.
 */
export function checkPostgresName(
  owner: string,
  option: string,
  value: string | undefined,
  fallback: string,
): string {
  if (value === undefined) return fallback;
  if (value === '' || Buffer.byteLength(value) > 63 || value.includes('\0')) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${owner} option ${option} must be 1 to 63 bytes without NUL, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}
