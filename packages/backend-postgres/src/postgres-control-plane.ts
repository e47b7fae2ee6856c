import {
  type ControlPlane,
  childLogger,
  type Logger,
  MachineryError,
  type PauseStore,
  type ProgressStore,
  type Revocation,
  type RevocationStore,
  resolveLogger,
  type TaskEvent,
  type TaskEventStream,
  type TaskProgress,
  type Unsubscribe,
  type WorkerInfo,
  type WorkerRegistry,
} from '@machinery/core';
import {
  checkPostgresName,
  createTables,
  describePostgresError,
  openPostgresPool,
  PostgresListener,
  postgresError,
} from '@machinery/postgres-connection';
import type { Pool } from 'pg';
import { checkPrefix, checkQueue, checkTtl, checkUuids, progressJson } from './control-input.js';
import { ControlStatements, controlTables } from './control-statements.js';
import { jsonbText } from './jsonb-text.js';
import { LogCursor, type LogRow } from './log-cursor.js';
import type { PostgresControlPlaneOptions } from './options.js';

const DEFAULT_REVOCATION_TTL_MS = 3_600_000;
/** Expired rows are swept at most this often per control plane (reads ignore them anyway). */
const SWEEP_EVERY_MS = 60_000;
const REVOCATIONS_PER_READ = 1000;
const EVENTS_PER_READ = 500;

/**
 * The control plane on PostgreSQL, shared by every process pointing at the same database, schema and
 * table prefix. Five tables, created on first use: revocations (looked up in one query per batch),
 * paused queues, live workers (with a heartbeat deadline), task events (an append log trimmed to
 * `maxEvents`) and task progress. Rows past their time-to-live are ignored by every read and deleted
 * in the background. Announcements go through `LISTEN/NOTIFY`: revocations and pauses on one channel,
 * listened to on one connection opened by the first `onRevoke`/`onChange` (every worker has one);
 * "events up to id N" on another, listened to on a second connection opened by the first event
 * follower. Revocations and events are read from their tables after the last row seen, so those
 * written while a connection was down are read once it is back.
 *
 * @example
 * ```ts
 * const control = new PostgresControlPlane({ url: 'postgres://app:secret@127.0.0.1:5432/app' })
 * const server = new Server({ broker, backend, control })
 * await server.revoke(uuid)
 * ```
 */
export class PostgresControlPlane implements ControlPlane {
  /** The `pg` pool in use (the one passed in, or the one created). */
  readonly pool: Pool;
  readonly revocations: RevocationStore;
  readonly pauses: PauseStore;
  readonly workers: WorkerRegistry;
  readonly events: TaskEventStream;
  readonly progress: ProgressStore;
  private readonly ownsPool: boolean;
  private readonly where: string;
  private readonly sql: ControlStatements;
  private readonly maxEvents: number;
  private readonly logger: Logger;
  /** LISTENs to revocations and pauses. */
  private readonly controlListener: PostgresListener;
  /** LISTENs to task events, for event followers only. */
  private readonly eventsListener: PostgresListener;
  private readonly revokeListeners = new Set<(r: readonly Revocation[]) => void>();
  private readonly pauseListeners = new Set<(queue: string, paused: boolean) => void>();
  /** One cursor per event follower. */
  private readonly followers = new Set<LogCursor<TaskEvent>>();
  /** Reads announced revocations; created once listening. */
  private revocationCursor: LogCursor<Revocation> | undefined;
  /** The paused queues as announced so far, to tell what changed while the connection was down. */
  private pausedNow: Set<string> | undefined;
  private migrating: Promise<void> | undefined;
  private live: Promise<void> | undefined;
  private lastSweep = Date.now();
  private closing: Promise<void> | undefined;

  constructor(options: PostgresControlPlaneOptions = {}) {
    const maxEvents = options.maxEvents ?? 10_000;
    if (!Number.isInteger(maxEvents) || maxEvents < 1) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `PostgresControlPlane option maxEvents must be a whole number ≥ 1, got ${maxEvents}.`,
      );
    }
    this.maxEvents = maxEvents;
    const schema = checkPostgresName('PostgresControlPlane', 'schema', options.schema, 'public');
    this.sql = new ControlStatements(controlTables(schema, checkPrefix(options.tablePrefix)));
    this.logger = childLogger(resolveLogger(options.logger), { component: 'postgres-control-plane' });
    const { pool, owned, where } = openPostgresPool(options, this.logger);
    this.pool = pool;
    this.ownsPool = owned;
    this.where = where;
    this.controlListener = new PostgresListener({
      pool,
      channel: this.sql.channel,
      logger: this.logger,
      onPayload: (payload) => this.dispatch(payload),
      onResumed: () => this.resumed(),
      meanwhile: 'revocations and pauses made meanwhile are announced once it is back',
    });
    this.eventsListener = new PostgresListener({
      pool,
      channel: this.sql.eventsChannel,
      logger: this.logger,
      onPayload: (payload) => this.dispatch(payload),
      onResumed: () => {
        for (const follower of this.followers) follower.notify();
      },
      meanwhile: 'task events published meanwhile are delivered once it is back',
    });

    this.revocations = {
      revoke: async (uuids, opts = {}) => {
        const distinct = [...new Set(checkUuids(uuids))];
        const ttlMs = checkTtl('Revocation ttlMs', opts.ttlMs ?? DEFAULT_REVOCATION_TTL_MS);
        const reason = opts.reason ?? 'revoked';
        if (typeof reason !== 'string') {
          throw new MachineryError(
            'ERR_INVALID_ARGUMENT',
            `A revocation reason must be a string, got ${typeof reason}.`,
          );
        }
        if (distinct.length === 0) return;
        await this.query('Revoking tasks', this.sql.revoke, [
          distinct,
          // PostgreSQL text cannot hold NUL; a reason is a message, so the character is replaced.
          reason.replaceAll('\0', '\uFFFD'),
          ttlMs,
          this.sql.revocationsLock,
          this.sql.channel,
        ]);
        this.maybeSweep();
      },
      revoked: async (uuids) => {
        const ids = checkUuids(uuids);
        if (ids.length === 0) return [];
        const rows = await this.query('Reading revocations', this.sql.revoked, [ids]);
        const byUuid = new Map(rows.map((row) => [row.uuid as string, revocationOf(row)]));
        return ids.map((uuid) => byUuid.get(uuid));
      },
      onRevoke: async (listener) => {
        await this.listening();
        return this.listen(this.revokeListeners, listener);
      },
    };

    this.pauses = {
      pause: async (queue) => {
        await this.query(`Pausing queue "${checkQueue(queue)}"`, this.sql.pause, [queue, this.sql.channel]);
      },
      resume: async (queue) => {
        await this.query(`Resuming queue "${checkQueue(queue)}"`, this.sql.resume, [queue, this.sql.channel]);
      },
      isPaused: async (queue) =>
        (await this.query('Reading paused queues', this.sql.isPaused, [queue])).length > 0,
      paused: () => this.pausedQueues(),
      onChange: async (listener) => {
        await this.listening();
        return this.listen(this.pauseListeners, listener);
      },
    };

    this.workers = {
      heartbeat: async (info, ttlMs) => {
        const ttl = checkTtl('Heartbeat ttlMs', ttlMs);
        await this.query('Recording a worker heartbeat', this.sql.heartbeat, [info.id, jsonbText(info), ttl]);
        this.maybeSweep();
      },
      remove: async (id) => {
        await this.query('Removing a worker', this.sql.removeWorker, [id]);
      },
      list: async () =>
        (await this.query('Listing workers', this.sql.liveWorkers, [])).map((row) => row.info as WorkerInfo),
    };

    this.events = {
      publish: async (events) => {
        if (events.length === 0) return;
        await this.query('Publishing task events', this.sql.publish, [
          events.map((event) => jsonbText(event)),
          this.sql.eventsLock,
          this.maxEvents,
          this.sql.eventsChannel,
        ]);
      },
      subscribe: (listener) => this.follow(listener),
    };

    this.progress = {
      set: async (taskUUID, data, ttlMs) => {
        const ttl = checkTtl('Progress ttlMs', ttlMs);
        await this.query('Storing task progress', this.sql.setProgress, [taskUUID, progressJson(data), ttl]);
        this.maybeSweep();
      },
      get: async (taskUUID) => {
        const [row] = await this.query('Reading task progress', this.sql.getProgress, [taskUUID]);
        if (row === undefined) return undefined;
        const text = row.data as string | null;
        const progress: TaskProgress = {
          data: text === null ? undefined : JSON.parse(text),
          at: (row.at as Date).getTime(),
        };
        return progress;
      },
    };
  }

  /**
   * Creates the schema, the five tables and their indexes if they are missing. Idempotent and safe to
   * run from many processes at once; every other method runs it first.
   */
  migrate(): Promise<void> {
    this.migrating ??= createTables(this.pool, this.sql.tables.revocations, this.sql.createTables).catch(
      (err: unknown) => {
        this.migrating = undefined;
        throw postgresError(
          `Creating the control plane tables in schema "${this.sql.tables.revocations.schema}"`,
          this.where,
          err,
        );
      },
    );
    return this.migrating;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new MachineryError(
        'ERR_CLOSED',
        'The PostgreSQL control plane is closed. Create a new PostgresControlPlane to continue.',
      );
    }
  }

  private async query(what: string, text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    this.assertOpen();
    await this.migrate();
    try {
      return (await this.pool.query(text, values)).rows;
    } catch (err) {
      throw postgresError(what, this.where, err);
    }
  }

  private async pausedQueues(): Promise<string[]> {
    const rows = await this.query('Reading paused queues', this.sql.pausedQueues, []);
    return rows.map((row) => row.queue as string);
  }

  private maybeSweep(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    for (const sweep of this.sql.sweeps) {
      this.pool
        .query(sweep)
        .catch((err: unknown) =>
          this.logger.warn({ err: describePostgresError(err) }, 'sweeping expired control rows failed'),
        );
    }
  }

  private listen<L>(set: Set<L>, listener: L): Unsubscribe {
    set.add(listener);
    return async () => {
      set.delete(listener);
    };
  }

  /**
   * Starts listening once: `LISTEN` first, then the last revocation and the paused queues are read, so
   * that anything written after that read is announced.
   */
  private listening(): Promise<void> {
    this.assertOpen();
    this.live ??= (async () => {
      await this.migrate();
      await this.controlListener.start();
      const [[last], paused] = await Promise.all([
        this.query('Listening for revocations', this.sql.lastRevocation, []),
        this.pausedQueues(),
      ]);
      this.pausedNow = new Set(paused);
      this.revocationCursor = new LogCursor<Revocation>({
        after: Number(last?.last ?? 0),
        pageSize: REVOCATIONS_PER_READ,
        read: (after, limit) => this.readRows(this.sql.revocationsAfter, after, limit, 'seq', revocationOf),
        deliver: (revocations) => {
          for (const listener of [...this.revokeListeners]) safely(() => listener(revocations));
        },
        onError: (err) => this.warnReadFailed('revocations', err),
      });
      // A revocation announced before the cursor existed is read now.
      this.revocationCursor.notify();
    })().catch((err: unknown) => {
      this.live = undefined;
      throw err;
    });
    return this.live;
  }

  private async readRows<T>(
    text: string,
    after: number,
    limit: number,
    position: string,
    item: (row: Record<string, unknown>) => T,
  ): Promise<LogRow<T>[]> {
    const rows = await this.query('Reading control announcements', text, [after, limit]);
    return rows.map((row) => ({ position: Number(row[position]), item: item(row) }));
  }

  private warnReadFailed(what: string, err: unknown): void {
    this.logger.warn({ err: describePostgresError(err) }, `reading announced ${what} failed; retrying`);
  }

  /** Handles one announcement: `r<seq>`, `e<id>`, `p1<queue>` or `p0<queue>`. */
  private dispatch(payload: string): void {
    const upTo = (text: string) => {
      const n = Number(text);
      return Number.isFinite(n) ? n : undefined;
    };
    if (payload.startsWith('r')) this.revocationCursor?.notify(upTo(payload.slice(1)));
    else if (payload.startsWith('e'))
      for (const follower of this.followers) follower.notify(upTo(payload.slice(1)));
    else if (payload.startsWith('p1')) this.announcePause(payload.slice(2), true);
    else if (payload.startsWith('p0')) this.announcePause(payload.slice(2), false);
    else this.logger.warn({ payload: payload.slice(0, 100) }, 'ignored an unreadable control announcement');
  }

  private announcePause(queue: string, paused: boolean): void {
    if (this.pausedNow === undefined) return;
    if (paused) this.pausedNow.add(queue);
    else this.pausedNow.delete(queue);
    for (const listener of [...this.pauseListeners]) safely(() => listener(queue, paused));
  }

  /** `LISTEN` to revocations and pauses is back after a lost connection: reads what was announced meanwhile. */
  private resumed(): void {
    this.revocationCursor?.notify();
    this.resyncPauses().catch((err: unknown) => this.warnReadFailed('pauses', err));
  }

  /** Announces each queue paused or resumed while the connection was down (its last state only). */
  private async resyncPauses(): Promise<void> {
    const before = this.pausedNow;
    if (before === undefined) return;
    const now = new Set(await this.pausedQueues());
    for (const queue of now) if (!before.has(queue)) this.announcePause(queue, true);
    for (const queue of [...before]) if (!now.has(queue)) this.announcePause(queue, false);
  }

  /** Follows the events table from its current end; its own cursor, woken by `e<id>` announcements. */
  private async follow(listener: (event: TaskEvent) => void): Promise<Unsubscribe> {
    this.assertOpen();
    await this.migrate();
    await this.eventsListener.start();
    const [last] = await this.query('Following task events', this.sql.lastEvent, []);
    const cursor = new LogCursor<TaskEvent>({
      after: Number(last?.last ?? 0),
      pageSize: EVENTS_PER_READ,
      read: (after, limit) =>
        this.readRows(this.sql.eventsAfter, after, limit, 'id', (row) => row.event as TaskEvent),
      deliver: (events) => {
        for (const event of events) safely(() => listener(event));
      },
      onError: (err) => this.warnReadFailed('task events', err),
    });
    // Closed while the end was read: the cursor would never be stopped.
    this.assertOpen();
    this.followers.add(cursor);
    // An event announced between the read of the end and now is read at once.
    cursor.notify();
    return async () => {
      this.followers.delete(cursor);
      await cursor.stop();
    };
  }

  /**
   * Stops listening and ends the pool the control plane created (a pool passed in stays open).
   * Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.revokeListeners.clear();
      this.pauseListeners.clear();
      const stops = [...this.followers].map((cursor) => cursor.stop());
      this.followers.clear();
      await this.live?.catch(() => {});
      await Promise.all([...stops, this.revocationCursor?.stop()]);
      await Promise.all([this.controlListener.close(), this.eventsListener.close()]);
      await this.migrating?.catch(() => {});
      if (this.ownsPool) await this.pool.end();
    })();
    return this.closing;
  }
}

/** A revocation row as core's {@link Revocation}. */
function revocationOf(row: Record<string, unknown>): Revocation {
  return {
    uuid: row.uuid as string,
    reason: row.reason as string,
    revokedAt: (row.revoked_at as Date).getTime(),
  };
}

/** Runs a listener; its failure is its own concern. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's failure must not stop the others.
  }
}
