import {
  type Backend,
  type BackendCapabilities,
  childLogger,
  Dictionary,
  decodeGroupMeta,
  decodeTaskState,
  encodeGroupMeta,
  encodeTaskState,
  type GroupMeta,
  isCompleted,
  keepsEarlierState,
  type Logger,
  MachineryError,
  nextTaskState,
  resolveLogger,
  SequentialByKey,
  type Signature,
  type StateUpdate,
  StateWritingBackend,
  type TaskState,
  type TaskStatus,
} from '@machinery/core';
import {
  checkPostgresName,
  createTables,
  describePostgresError,
  openPostgresPool,
  PostgresListener,
  postgresError,
  postgresTable,
} from '@machinery/postgres-connection';
import type { Pool } from 'pg';
import type { PostgresBackendOptions } from './options.js';
import { Statements } from './statements.js';

/** Expired rows are swept at most this often per backend (reads ignore them anyway). */
const SWEEP_EVERY_MS = 60_000;

interface Waiter {
  resolve(state: TaskState): void;
  reject(err: unknown): void;
}

/**
 * A PostgreSQL result backend: one row per task or group holding Go Machinery's TaskState or
 * GroupMeta JSON, with an expiry; the chord trigger is one conditional `UPDATE` (exactly one winner,
 * remembered); completed states are pushed to `waitForState` through `LISTEN/NOTIFY`. The table is
 * created on first use.
 *
 * @example
 * ```ts
 * const url = 'postgres://app:secret@127.0.0.1:5432/app'
 * const server = new Server({ broker: new PostgresBroker({ url }), backend: new PostgresBackend({ url }) })
 * ```
 */
export class PostgresBackend extends StateWritingBackend implements Backend {
  readonly capabilities: BackendCapabilities = {
    pushResults: true,
    durableReads: true,
    expiry: true,
    rememberChordWinner: true,
  };
  /** The `pg` pool in use (the one passed in, or the one the backend created). */
  readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly sql: Statements;
  private readonly ttlSeconds: number;
  private readonly logger: Logger;
  private readonly where: string;
  private readonly listener: PostgresListener;
  private readonly writes = new SequentialByKey();
  /** Waiters by task UUID. Not a `Map`: one comes and goes per awaited task (see core's `Dictionary`). */
  private readonly waiters = new Dictionary<Set<Waiter>>();
  private migrating: Promise<void> | undefined;
  private lastSweep = Date.now();
  private closing: Promise<void> | undefined;

  constructor(options: PostgresBackendOptions = {}) {
    super();
    const ttl = options.resultsExpireIn ?? 3600;
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `PostgresBackend option resultsExpireIn must be a whole number of seconds ≥ 1, got ${ttl}.`,
      );
    }
    this.ttlSeconds = ttl;
    this.sql = new Statements(
      postgresTable(
        checkPostgresName('PostgresBackend', 'schema', options.schema, 'public'),
        checkPostgresName('PostgresBackend', 'table', options.table, 'machinery_results'),
      ),
    );
    this.logger = childLogger(resolveLogger(options.logger), { component: 'postgres-backend' });
    const { pool, owned, where } = openPostgresPool(options, this.logger);
    this.pool = pool;
    this.ownsPool = owned;
    this.where = where;
    // A lost notification only delays a result until the connection is back: every waiter reads again then.
    this.listener = new PostgresListener({
      pool,
      channel: this.sql.table.channel,
      logger: this.logger,
      onPayload: (uuid) => this.check(uuid),
      onResumed: () => {
        for (const uuid of this.waiters.keys()) this.check(uuid);
      },
      meanwhile: 'results are looked up again once it is back',
    });
  }

  /**
   * Creates the schema, the table and its index if they are missing. Idempotent and safe to run from
   * many processes at once; every other method runs it first.
   */
  migrate(): Promise<void> {
    this.migrating ??= createTables(this.pool, this.sql.table, this.sql.createTable).catch((err: unknown) => {
      this.migrating = undefined;
      throw postgresError(`Creating the results table ${this.sql.table.qualified}`, this.where, err);
    });
    return this.migrating;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new MachineryError(
        'ERR_CLOSED',
        'The PostgreSQL backend is closed. Create a new PostgresBackend to continue.',
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

  protected writeState(sig: Signature, status: TaskStatus, update: StateUpdate): Promise<void> {
    this.assertOpen();
    // One task's writes in call order: the Worker issues STARTED and the outcome without awaiting.
    return this.writes.run(sig.uuid, async () => {
      let previous: TaskState | undefined;
      if (keepsEarlierState(status)) {
        const rows = await this.query('Reading a task state', this.sql.read, [sig.uuid]);
        previous = rows[0] ? decodeTaskState(rows[0].value as string) : undefined;
      }
      const next = nextTaskState(sig, status, update, previous);
      const text = isCompleted(status) ? this.sql.writeNotify : this.sql.write;
      await this.query(`Storing state ${status} of task "${sig.name}"`, text, [
        sig.uuid,
        encodeTaskState(next),
        this.ttlSeconds,
      ]);
      this.maybeSweep();
    });
  }

  private maybeSweep(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    this.pool
      .query(this.sql.sweep)
      .catch((err: unknown) =>
        this.logger.warn({ err: describePostgresError(err) }, 'sweeping expired results failed'),
      );
  }

  async initGroup(groupUUID: string, taskUUIDs: readonly string[]): Promise<void> {
    const meta: GroupMeta = {
      groupUUID,
      taskUUIDs: [...taskUUIDs],
      chordTriggered: false,
      lock: false,
      createdAt: new Date(),
      ttl: 0,
    };
    await this.query('Storing group metadata', this.sql.write, [
      groupUUID,
      encodeGroupMeta(meta),
      this.ttlSeconds,
    ]);
  }

  async getGroupMeta(groupUUID: string): Promise<GroupMeta | undefined> {
    const rows = await this.query('Reading group metadata', this.sql.read, [groupUUID]);
    return rows[0] ? decodeGroupMeta(rows[0].value as string) : undefined;
  }

  private async requireMeta(groupUUID: string): Promise<GroupMeta> {
    const meta = await this.getGroupMeta(groupUUID);
    if (!meta) {
      throw new MachineryError('ERR_NOT_FOUND', `Group ${groupUUID} is unknown or its metadata expired.`);
    }
    return meta;
  }

  async groupCompleted(groupUUID: string, groupTaskCount: number): Promise<boolean> {
    const states = await this.groupTaskStates(groupUUID, groupTaskCount);
    return states.length >= groupTaskCount && states.every((s) => isCompleted(s.state));
  }

  async groupTaskStates(groupUUID: string, _groupTaskCount: number): Promise<TaskState[]> {
    const meta = await this.requireMeta(groupUUID);
    const rows = await this.query('Reading group member states', this.sql.readMany, [meta.taskUUIDs]);
    const byKey = new Map(rows.map((r) => [r.key as string, r.value as string]));
    const out: TaskState[] = [];
    for (const uuid of meta.taskUUIDs) {
      const json = byKey.get(uuid);
      if (json !== undefined) out.push(decodeTaskState(json));
    }
    return out;
  }

  async triggerChord(groupUUID: string, by?: string): Promise<boolean> {
    const meta = await this.requireMeta(groupUUID);
    const value = encodeGroupMeta({ ...meta, chordTriggered: true });
    // Row-level: of many concurrent updates exactly one finds chord_triggered still false.
    const won = await this.query('Triggering a chord', this.sql.triggerChord, [groupUUID, by ?? null, value]);
    if (won.length > 0) return true;
    if (by === undefined) return false;
    const rows = await this.query('Reading a chord winner', this.sql.chordWinner, [groupUUID]);
    return rows[0]?.chord_triggered === true && rows[0]?.chord_winner === by;
  }

  async getState(taskUUID: string): Promise<TaskState | undefined> {
    const rows = await this.query('Reading a task state', this.sql.read, [taskUUID]);
    return rows[0] ? decodeTaskState(rows[0].value as string) : undefined;
  }

  waitForState(taskUUID: string, signal: AbortSignal): Promise<TaskState> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let set = this.waiters.get(taskUUID);
      if (!set) {
        set = new Set();
        this.waiters.set(taskUUID, set);
      }
      const waiters = set;
      const waiter: Waiter = {
        resolve: (state) => {
          signal.removeEventListener('abort', onAbort);
          resolve(state);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        this.forget(taskUUID, waiter);
        reject(signal.reason);
      };
      waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      // LISTEN first, then look: a completion between the two is seen by one or the other.
      this.listener.start().then(
        () => this.check(taskUUID),
        (err: unknown) => waiter.reject(err),
      );
    });
  }

  private forget(taskUUID: string, waiter: Waiter): void {
    const set = this.waiters.get(taskUUID);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(taskUUID);
  }

  /** Reads the task's state and resolves its waiters if it is completed. */
  private check(taskUUID: string): void {
    if (!this.waiters.has(taskUUID)) return;
    this.getState(taskUUID).then(
      (state) => {
        if (!state || !isCompleted(state.state)) return;
        const set = this.waiters.get(taskUUID);
        this.waiters.delete(taskUUID);
        for (const w of set ?? []) w.resolve(state);
      },
      (err: unknown) => {
        // Tried again on the next notification or reconnect; the caller's signal bounds the wait.
        this.logger.warn({ err: describePostgresError(err) }, 'reading a completed state failed');
      },
    );
  }

  async purgeState(taskUUID: string): Promise<void> {
    await this.query('Purging a task state', this.sql.purge, [taskUUID]);
  }

  async purgeGroupMeta(groupUUID: string): Promise<void> {
    await this.query('Purging group metadata', this.sql.purge, [groupUUID]);
  }

  /**
   * Stops listening and ends the pool the backend created (a pool passed in stays open). Waiters
   * still pending are rejected with `ERR_CLOSED`. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const closed = new MachineryError(
      'ERR_CLOSED',
      'The PostgreSQL backend was closed while a result was awaited.',
    );
    for (const set of this.waiters.values()) for (const w of set) w.reject(closed);
    this.waiters.clear();
    await this.listener.close();
    await this.migrating?.catch(() => {});
    if (this.ownsPool) await this.pool.end();
  }
}
