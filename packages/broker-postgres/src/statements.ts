import type { PostgresTable } from '@machinery/postgres-connection';

/**
 * Joined into the statements that only move leases (claim, settle, renew): their commit does not
 * wait for the WAL flush. A crash of the server can then lose the last such changes, which returns
 * a task to its state before — leased tasks come back, acknowledged ones run again: at-least-once
 * holds. Publishes and requeues of dead letters keep the server's setting (a lost publish would be a
 * lost task).
 */
const ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit";

/**
 * Every SQL statement of the broker, for one task table. The table holds all queues: a row is a task
 * waiting (`lease_token` null), leased (`lease_token` set) or dead (`dead_at` set). One column,
 * `visible_at`, says when a live row may be claimed: its ETA while it waits, its lease deadline while
 * it is leased — so an expired lease is claimable again by the same query as a new task, and no
 * reaper is needed.
 */
export class Statements {
  /** `CREATE TABLE` and `CREATE INDEX`, each `IF NOT EXISTS`. */
  readonly createTable: string[];
  readonly publish: string;
  readonly claim: string;
  readonly nextDue: string;
  readonly ack: string;
  readonly renew: string;
  readonly extend: string;
  readonly requeue: string;
  readonly release: string;
  readonly deadLetter: string;
  readonly pending: string;
  readonly delayed: string;
  readonly deadLetters: string;
  readonly requeueDead: string;
  readonly purge: string;

  /**
   * @param table - the task table; publishes notify its channel with the queue name as payload.
   */
  constructor(readonly table: PostgresTable) {
    const t = table.qualified;
    const index = table.index;
    const channel = table.channel;
    this.createTable = [
      `CREATE TABLE IF NOT EXISTS ${t} (
        id bigserial PRIMARY KEY,
        queue text NOT NULL,
        body text NOT NULL,
        priority integer NOT NULL DEFAULT 0,
        visible_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        lease_token uuid,
        consumer text,
        published_at timestamptz NOT NULL DEFAULT now(),
        dead_at timestamptz,
        dead_reason text
      )`,
      // Claim order: priority, then visibility, then publish order.
      `CREATE INDEX IF NOT EXISTS ${index('claim')} ON ${t} (queue, priority DESC, visible_at, id) WHERE dead_at IS NULL`,
      // When an idle queue's next task becomes due (ETA or lease deadline).
      `CREATE INDEX IF NOT EXISTS ${index('due')} ON ${t} (queue, visible_at) WHERE dead_at IS NULL`,
      `CREATE INDEX IF NOT EXISTS ${index('dead')} ON ${t} (dead_at, id) WHERE dead_at IS NOT NULL`,
    ];
    // One statement: all rows or none. The notification is sent on commit, for the queues written.
    this.publish = `WITH ins AS (
        INSERT INTO ${t} (queue, body, priority, visible_at)
        SELECT q, b, p, coalesce(v, now())
        FROM unnest($1::text[], $2::text[], $3::integer[], $4::timestamptz[]) AS u(q, b, p, v)
        RETURNING queue
      )
      SELECT pg_notify('${channel}', queue) FROM (SELECT DISTINCT queue FROM ins) AS s`;
    // SKIP LOCKED: concurrent claimers pass over each other's rows instead of waiting; each claimed
    // row gets a fresh token, which fences every later settle of an earlier holder.
    this.claim = `WITH picked AS (
        SELECT id, priority, visible_at FROM ${t}
        WHERE queue = $1 AND dead_at IS NULL AND visible_at <= now()
        ORDER BY priority DESC, visible_at, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE ${t} AS t
        SET attempts = t.attempts + 1, lease_token = gen_random_uuid(),
            visible_at = now() + $3 * interval '1 millisecond', consumer = $4
        FROM picked, ${ASYNC_COMMIT} WHERE t.id = picked.id
        RETURNING t.id, t.body, t.attempts, t.lease_token, picked.priority, picked.visible_at AS was_visible
      )
      SELECT id, body, attempts, lease_token FROM claimed ORDER BY priority DESC, was_visible, id`;
    // Over every live row: one already due (another claimer held it locked) says "look again soon".
    this.nextDue = `SELECT ceil(extract(epoch FROM min(visible_at) - now()) * 1000)::float8 AS wait_ms
      FROM ${t} WHERE queue = $1 AND dead_at IS NULL`;
    this.ack = `DELETE FROM ${t} AS t USING unnest($1::bigint[], $2::uuid[]) AS u(id, token), ${ASYNC_COMMIT}
      WHERE t.id = u.id AND t.lease_token = u.token RETURNING t.lease_token`;
    // greatest(): a renewal never shortens a longer extendLease().
    this.renew = `UPDATE ${t} AS t SET visible_at = greatest(t.visible_at, now() + $3 * interval '1 millisecond')
      FROM unnest($1::bigint[], $2::uuid[]) AS u(id, token), ${ASYNC_COMMIT}
      WHERE t.id = u.id AND t.lease_token = u.token RETURNING t.lease_token`;
    this.extend = `UPDATE ${t} SET visible_at = greatest(visible_at, now() + $3 * interval '1 millisecond')
      FROM ${ASYNC_COMMIT} WHERE id = $1 AND lease_token = $2`;
    this.requeue = `WITH r AS (
        UPDATE ${t} SET lease_token = NULL, consumer = NULL, visible_at = now() + $3 * interval '1 millisecond'
        FROM ${ASYNC_COMMIT} WHERE id = $1 AND lease_token = $2 RETURNING queue
      )
      SELECT pg_notify('${channel}', queue) FROM r`;
    // A task claimed after its consumer stopped was never handed over: it goes back uncounted.
    this.release = `WITH r AS (
        UPDATE ${t} SET lease_token = NULL, consumer = NULL, visible_at = now(), attempts = attempts - 1
        FROM ${ASYNC_COMMIT} WHERE id = $1 AND lease_token = $2 RETURNING queue
      )
      SELECT pg_notify('${channel}', queue) FROM r`;
    this.deadLetter = `UPDATE ${t} SET lease_token = NULL, consumer = NULL, dead_at = clock_timestamp(), dead_reason = $3
      FROM ${ASYNC_COMMIT} WHERE id = $1 AND lease_token = $2`;
    this.pending = `SELECT body FROM ${t}
      WHERE queue = $1 AND dead_at IS NULL AND visible_at <= now()
      ORDER BY priority DESC, visible_at, id LIMIT $2`;
    this.delayed = `SELECT body FROM ${t}
      WHERE dead_at IS NULL AND lease_token IS NULL AND visible_at > now()
      ORDER BY visible_at, id LIMIT $1`;
    this.deadLetters = `SELECT body, dead_reason, queue, dead_at FROM ${t}
      WHERE dead_at IS NOT NULL ORDER BY dead_at, id LIMIT $1`;
    // A dead letter gets a fresh start: its delivery count begins again.
    this.requeueDead = `WITH picked AS (
        SELECT id FROM ${t} WHERE dead_at IS NOT NULL ORDER BY dead_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
      ), moved AS (
        UPDATE ${t} AS t SET dead_at = NULL, dead_reason = NULL, attempts = 0, visible_at = now()
        FROM picked WHERE t.id = picked.id RETURNING t.queue
      ), woken AS (
        SELECT pg_notify('${channel}', queue) FROM (SELECT DISTINCT queue FROM moved) AS s
      )
      SELECT (SELECT count(*) FROM moved)::integer AS moved, (SELECT count(*) FROM woken) AS woken`;
    // The parts as pendingTasks(), delayedTasks() and deadLetters() see them, of one queue. SKIP
    // LOCKED passes over rows a claim is leasing right now; a live lease (visible_at ahead) is
    // neither pending nor delayed, so a held task stays. An expired lease is claimable: pending.
    this.purge = `WITH picked AS (
        SELECT id, CASE
            WHEN dead_at IS NOT NULL THEN 'dead'
            WHEN visible_at <= now() THEN 'pending'
            ELSE 'delayed'
          END AS part
        FROM ${t}
        WHERE queue = $1 AND (
          ($2 AND dead_at IS NULL AND visible_at <= now())
          OR ($3 AND dead_at IS NULL AND lease_token IS NULL AND visible_at > now())
          OR ($4 AND dead_at IS NOT NULL)
        )
        FOR UPDATE SKIP LOCKED
      ), removed AS (
        DELETE FROM ${t} AS t USING picked WHERE t.id = picked.id RETURNING picked.part
      )
      SELECT count(*) FILTER (WHERE part = 'pending')::integer AS pending,
        count(*) FILTER (WHERE part = 'delayed')::integer AS delayed,
        count(*) FILTER (WHERE part = 'dead')::integer AS dead
      FROM removed`;
  }
}
