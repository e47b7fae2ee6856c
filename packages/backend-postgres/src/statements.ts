import type { PostgresTable } from '@machinery/postgres-connection';

/**
 * Every SQL statement of the backend, for one results table: one row per key (task UUID or group
 * UUID) holding Go Machinery's JSON (TaskState or GroupMeta), with its expiry and the chord guard.
 */
export class Statements {
  /** `CREATE TABLE` and `CREATE INDEX`, each `IF NOT EXISTS`. */
  readonly createTable: string[];
  readonly read: string;
  readonly readMany: string;
  readonly write: string;
  readonly writeNotify: string;
  readonly triggerChord: string;
  readonly chordWinner: string;
  readonly purge: string;
  readonly sweep: string;

  /**
   * @param table - the results table; completed states notify its channel with the task UUID as payload.
   */
  constructor(readonly table: PostgresTable) {
    const t = table.qualified;
    this.createTable = [
      `CREATE TABLE IF NOT EXISTS ${t} (
        key text PRIMARY KEY,
        value text NOT NULL,
        expires_at timestamptz NOT NULL,
        chord_triggered boolean NOT NULL DEFAULT false,
        chord_winner text
      )`,
      `CREATE INDEX IF NOT EXISTS ${table.index('expiry')} ON ${t} (expires_at)`,
    ];
    const live = 'expires_at > now()';
    this.read = `SELECT value FROM ${t} WHERE key = $1 AND ${live}`;
    this.readMany = `SELECT key, value FROM ${t} WHERE key = ANY($1::text[]) AND ${live}`;
    // A write replaces the row whole: a new state (or group) starts with a fresh chord guard.
    this.write = `INSERT INTO ${t} (key, value, expires_at) VALUES ($1, $2, now() + $3 * interval '1 second')
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
        chord_triggered = false, chord_winner = NULL`;
    // The notification is sent on commit: a waiter reading the state then finds it.
    this.writeNotify = `WITH w AS (${this.write} RETURNING key) SELECT pg_notify('${table.channel}', key) FROM w`;
    this.triggerChord = `UPDATE ${t} SET chord_triggered = true, chord_winner = $2, value = $3
      WHERE key = $1 AND ${live} AND NOT chord_triggered RETURNING key`;
    this.chordWinner = `SELECT chord_triggered, chord_winner FROM ${t} WHERE key = $1 AND ${live}`;
    this.purge = `DELETE FROM ${t} WHERE key = $1`;
    // Bounded, so one sweep never holds many row locks.
    this.sweep = `DELETE FROM ${t} WHERE ctid IN (SELECT ctid FROM ${t} WHERE expires_at <= now() LIMIT 1000)`;
  }
}
