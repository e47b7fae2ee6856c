import { type PostgresTable, postgresTable } from '@machinery/postgres-connection';

/** The tables of one control plane: `<schema>.<prefix>revocations` and its siblings. */
export interface ControlTables {
  readonly revocations: PostgresTable;
  readonly paused: PostgresTable;
  readonly workers: PostgresTable;
  readonly events: PostgresTable;
  readonly progress: PostgresTable;
}

/** The longest table suffix: a prefix may take the rest of PostgreSQL's 63 bytes. */
export const LONGEST_TABLE_SUFFIX = 'task_progress';

/** Names the five tables of a control plane in `schema`, each `<prefix><suffix>`. */
export function controlTables(schema: string, prefix: string): ControlTables {
  return {
    revocations: postgresTable(schema, `${prefix}revocations`),
    paused: postgresTable(schema, `${prefix}paused_queues`),
    workers: postgresTable(schema, `${prefix}workers`),
    events: postgresTable(schema, `${prefix}task_events`),
    progress: postgresTable(schema, `${prefix}task_progress`),
  };
}

/** `$n` milliseconds from now, as a timestamptz. */
const fromNow = (n: number) => `now() + $${n}::double precision * interval '1 millisecond'`;

/**
 * Every SQL statement of the control plane. Revocations and events are append logs with an ordered
 * number (`seq`, `id`): a listener reads the rows after the last one it saw whenever it is told that
 * more were written, and again after a lost connection, so an announcement missed while disconnected
 * is read late rather than lost. Appends take a transaction-level advisory lock before they draw
 * their numbers, so numbers become visible in order: a reader never sees 12 while 11 is still to
 * come. Two `NOTIFY` channels carry the announcements, each payload prefixed by its kind: the control
 * channel `r<seq>` (revocations up to seq) and `p1<queue>` / `p0<queue>` (paused / resumed), which
 * every worker listens to; the events channel `e<id>` (events up to id), which only event followers
 * listen to, so that workers are not woken by every batch of events.
 */
export class ControlStatements {
  /** `CREATE TABLE` and `CREATE INDEX`, each `IF NOT EXISTS`. */
  readonly createTables: string[];
  /** The channel of revocations and pauses. */
  readonly channel: string;
  /** The channel of task events. */
  readonly eventsChannel: string;
  /** Advisory lock keys (for `hashtext`) that order the appends to each log. */
  readonly revocationsLock: string;
  readonly eventsLock: string;

  readonly revoke: string;
  readonly revoked: string;
  readonly revocationsAfter: string;
  readonly lastRevocation: string;

  readonly pause: string;
  readonly resume: string;
  readonly isPaused: string;
  readonly pausedQueues: string;

  readonly heartbeat: string;
  readonly removeWorker: string;
  readonly liveWorkers: string;

  readonly publish: string;
  readonly eventsAfter: string;
  readonly lastEvent: string;

  readonly setProgress: string;
  readonly getProgress: string;

  /** Deletes of expired rows, bounded so that one sweep never holds many row locks. */
  readonly sweeps: string[];

  constructor(readonly tables: ControlTables) {
    const r = tables.revocations.qualified;
    const p = tables.paused.qualified;
    const w = tables.workers.qualified;
    const e = tables.events.qualified;
    const g = tables.progress.qualified;
    this.channel = tables.revocations.channel;
    this.eventsChannel = tables.events.channel;
    this.revocationsLock = `${tables.revocations.lockKey}:append`;
    this.eventsLock = `${tables.events.lockKey}:append`;

    this.createTables = [
      `CREATE TABLE IF NOT EXISTS ${r} (
        uuid text PRIMARY KEY,
        reason text NOT NULL,
        revoked_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        seq bigserial NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS ${tables.revocations.index('seq')} ON ${r} (seq)`,
      `CREATE INDEX IF NOT EXISTS ${tables.revocations.index('expiry')} ON ${r} (expires_at)`,
      `CREATE TABLE IF NOT EXISTS ${p} (
        queue text PRIMARY KEY,
        paused_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE IF NOT EXISTS ${w} (
        id text PRIMARY KEY,
        info jsonb NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS ${tables.workers.index('expiry')} ON ${w} (expires_at)`,
      `CREATE TABLE IF NOT EXISTS ${e} (
        id bigserial PRIMARY KEY,
        event jsonb NOT NULL
      )`,
      `CREATE TABLE IF NOT EXISTS ${g} (
        task_uuid text PRIMARY KEY,
        data json,
        at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS ${tables.progress.index('expiry')} ON ${g} (expires_at)`,
    ];

    // $1 uuids (distinct), $2 reason, $3 ttl ms, $4 lock key, $5 channel. The lock is taken before
    // the rows (and their seq) are produced: the sort reads every joined row first.
    this.revoke = `WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtext($4::text))),
      written AS (
        INSERT INTO ${r} (uuid, reason, revoked_at, expires_at)
        SELECT u.uuid, $2::text, now(), ${fromNow(3)}
        FROM lock, unnest($1::text[]) WITH ORDINALITY AS u(uuid, n) ORDER BY u.n
        ON CONFLICT (uuid) DO UPDATE SET reason = excluded.reason, revoked_at = excluded.revoked_at,
          expires_at = excluded.expires_at, seq = excluded.seq
        RETURNING seq)
      SELECT pg_notify($5::text, 'r' || max(seq)) FROM written`;
    const live = 'expires_at > now()';
    this.revoked = `SELECT uuid, reason, revoked_at FROM ${r} WHERE uuid = ANY($1::text[]) AND ${live}`;
    this.revocationsAfter = `SELECT uuid, reason, revoked_at, seq FROM ${r}
      WHERE seq > $1::bigint AND ${live} ORDER BY seq LIMIT $2::integer`;
    this.lastRevocation = `SELECT coalesce(max(seq), 0) AS last FROM ${r}`;

    // $1 queue, $2 channel. A data-modifying CTE runs whether or not the query reads it.
    this.pause = `WITH written AS (INSERT INTO ${p} (queue) VALUES ($1::text) ON CONFLICT (queue) DO NOTHING)
      SELECT pg_notify($2::text, 'p1' || $1::text)`;
    this.resume = `WITH written AS (DELETE FROM ${p} WHERE queue = $1::text)
      SELECT pg_notify($2::text, 'p0' || $1::text)`;
    this.isPaused = `SELECT 1 FROM ${p} WHERE queue = $1::text`;
    this.pausedQueues = `SELECT queue FROM ${p} ORDER BY queue COLLATE "C"`;

    this.heartbeat = `INSERT INTO ${w} (id, info, expires_at) VALUES ($1::text, $2::jsonb, ${fromNow(3)})
      ON CONFLICT (id) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at`;
    this.removeWorker = `DELETE FROM ${w} WHERE id = $1::text`;
    this.liveWorkers = `SELECT info FROM ${w} WHERE ${live} ORDER BY id COLLATE "C"`;

    // $1 events (jsonb texts, in order), $2 lock key, $3 events kept, $4 events channel. The trim sees the
    // table as it was before this statement: a batch longer than $3 is trimmed by the next publish.
    this.publish = `WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtext($2::text))),
      added AS (
        INSERT INTO ${e} (event)
        SELECT u.event FROM lock, unnest($1::jsonb[]) WITH ORDINALITY AS u(event, n) ORDER BY u.n
        RETURNING id),
      last AS (SELECT max(id) AS id FROM added),
      trimmed AS (DELETE FROM ${e} WHERE id <= (SELECT id FROM last) - $3::bigint)
      SELECT pg_notify($4::text, 'e' || id) FROM last`;
    this.eventsAfter = `SELECT id, event FROM ${e} WHERE id > $1::bigint ORDER BY id LIMIT $2::integer`;
    this.lastEvent = `SELECT coalesce(max(id), 0) AS last FROM ${e}`;

    // The data as text: SQL NULL is "no data" (undefined), the JSON text 'null' is null.
    this.setProgress = `INSERT INTO ${g} (task_uuid, data, at, expires_at)
      VALUES ($1::text, $2::json, now(), ${fromNow(3)})
      ON CONFLICT (task_uuid) DO UPDATE SET data = excluded.data, at = excluded.at, expires_at = excluded.expires_at`;
    this.getProgress = `SELECT data::text AS data, at FROM ${g} WHERE task_uuid = $1::text AND ${live}`;

    this.sweeps = [r, w, g].map(
      (t) => `DELETE FROM ${t} WHERE ctid IN (SELECT ctid FROM ${t} WHERE expires_at <= now() LIMIT 1000)`,
    );
  }
}
