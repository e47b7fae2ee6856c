import {
  type Broker,
  type BrokerCapabilities,
  type ConsumeOptions,
  type Consumer,
  checkPurge,
  childLogger,
  type DeadLetter,
  type Delivery,
  decodeSignature,
  encodeForPublish,
  type Logger,
  MachineryError,
  type PurgeCounts,
  type PurgeOptions,
  resolveLogger,
  type Signature,
} from '@machinery/core';
import {
  createTables,
  describePostgresError,
  openPostgresPool,
  PostgresListener,
  postgresError,
  postgresTable,
} from '@machinery/postgres-connection';
import type { Pool } from 'pg';
import { PostgresConsumer } from './consumer.js';
import type { BrokerContext } from './context.js';
import { type PostgresBrokerOptions, resolveOptions } from './options.js';
import { Statements } from './statements.js';

/** Largest `integer` PostgreSQL stores; Go's `Priority` is a uint8, so this only guards odd input. */
const MAX_PRIORITY = 2 ** 31 - 1;

/**
 * A PostgreSQL broker: every queue in one table; consumers claim rows with
 * `SELECT … FOR UPDATE SKIP LOCKED` under leases with fencing tokens, are woken by `LISTEN/NOTIFY`
 * (with a poll as fallback), and renew the leases they hold while tasks run. A row is deleted only
 * when the worker acknowledges (after the outcome is stored); a killed worker's tasks are claimed
 * again once its leases expire (10 s by default). ETAs, priorities and dead letters are columns.
 * The table is created on first use.
 *
 * @example
 * ```ts
 * const broker = new PostgresBroker({ url: 'postgres://app:secret@127.0.0.1:5432/app' })
 * const server = new Server({ broker, backend: new MemoryBackend() })
 * ```
 */
export class PostgresBroker implements Broker {
  readonly capabilities: BrokerCapabilities = {
    delays: true,
    maxDelayMs: Number.POSITIVE_INFINITY,
    priorities: true,
    fifoGroups: false,
    redelivery: true,
    leaseRenewal: true,
    atomicBulkPublish: true,
    deadLetterInspection: true,
    pendingInspection: true,
    delayedInspection: true,
    purge: { pending: true, delayed: true, deadLetters: true },
  };
  readonly defaultQueue: string;
  /** The `pg` pool in use (the one passed in, or the one the broker created). */
  readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly ctx: BrokerContext;
  private readonly logger: Logger;
  private readonly listener: PostgresListener;
  private readonly consumers = new Set<PostgresConsumer>();
  private migrating: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: PostgresBrokerOptions = {}) {
    const resolved = resolveOptions(options);
    this.defaultQueue = resolved.defaultQueue;
    // Renewed every third of it by this process: a Worker warns when its event loop stalls that long.
    this.capabilities = { ...this.capabilities, leaseMs: resolved.leaseMs };
    this.logger = childLogger(resolveLogger(options.logger), { component: 'postgres-broker' });
    const { pool, owned, where } = openPostgresPool(options, this.logger);
    this.pool = pool;
    this.ownsPool = owned;
    const sql = new Statements(postgresTable(resolved.schema, resolved.table));
    this.ctx = {
      pool,
      sql,
      options: resolved,
      logger: this.logger,
      where,
      reportError: (what, err) => this.logger.error({ err: describePostgresError(err) }, `${what} failed`),
    };
    // A publish wakes the consumers of its queue. Consumers poll as well, so a notification lost
    // while the connection was down delays a task by at most the poll interval.
    this.listener = new PostgresListener({
      pool,
      channel: sql.table.channel,
      logger: this.logger,
      onPayload: (queue) => {
        for (const c of this.consumers) if (c.queue === queue) c.wake();
      },
      onResumed: () => {
        for (const c of this.consumers) c.wake();
      },
      meanwhile: 'polling until it is back',
    });
  }

  /**
   * Creates the schema, the table and its indexes if they are missing. Idempotent and safe to run
   * from many processes at once (an advisory lock serialises it); every other method runs it first,
   * so calling it is only needed to fail fast at start-up.
   */
  migrate(): Promise<void> {
    const { sql, where } = this.ctx;
    this.migrating ??= createTables(this.pool, sql.table, sql.createTable).catch((err: unknown) => {
      this.migrating = undefined;
      throw postgresError(`Creating the task table ${sql.table.qualified}`, where, err);
    });
    return this.migrating;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new MachineryError(
        'ERR_CLOSED',
        'The PostgreSQL broker is closed. Create a new PostgresBroker to continue.',
      );
    }
  }

  async publish(signature: Signature): Promise<void> {
    await this.publishMany([signature]);
  }

  async publishMany(signatures: readonly Signature[]): Promise<void> {
    this.assertOpen();
    // Encode everything first: one bad signature publishes nothing.
    const now = Date.now();
    const queues: string[] = [];
    const bodies: string[] = [];
    const priorities: number[] = [];
    const etas: (Date | null)[] = [];
    for (const sig of signatures) {
      const { queue, body } = encodeForPublish(
        sig,
        this.defaultQueue,
        this.ctx.options.maxMessageBytes,
        this.ctx.options.wireFormat,
      );
      queues.push(queue);
      bodies.push(body);
      priorities.push(Math.max(-MAX_PRIORITY, Math.min(MAX_PRIORITY, Math.trunc(sig.priority || 0))));
      etas.push(sig.eta !== null && sig.eta.getTime() > now ? sig.eta : null);
    }
    if (signatures.length === 0) return;
    await this.migrate();
    const what =
      signatures.length === 1
        ? `Publishing task "${signatures[0]?.name}"`
        : `Publishing ${signatures.length} tasks`;
    try {
      await this.pool.query(this.ctx.sql.publish, [queues, bodies, priorities, etas]);
    } catch (err) {
      throw postgresError(what, this.ctx.where, err);
    }
  }

  async consume(
    queue: string,
    onDelivery: (delivery: Delivery) => void,
    options: ConsumeOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    if (queue === '') throw new MachineryError('ERR_INVALID_ARGUMENT', 'consume() needs a queue name.');
    await this.migrate();
    // LISTEN first, so that nothing published from here on goes unnoticed; if it cannot be set up
    // now, the listener keeps trying and the consumer polls meanwhile.
    await this.listener.start();
    this.assertOpen();
    const capacity = Math.max(1, options.concurrency + options.prefetch);
    const consumer = new PostgresConsumer(this.ctx, queue, onDelivery, capacity);
    this.consumers.add(consumer);
    consumer.start();
    return { stop: () => consumer.stop() };
  }

  async pendingTasks(
    queue: string = this.defaultQueue,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Signature[]> {
    return decodeAll(
      await this.select('Listing pending tasks', this.ctx.sql.pending, [queue, sqlLimit(limit)]),
    );
  }

  async delayedTasks(limit = Number.POSITIVE_INFINITY): Promise<Signature[]> {
    return decodeAll(await this.select('Listing delayed tasks', this.ctx.sql.delayed, [sqlLimit(limit)]));
  }

  async deadLetters(limit = Number.POSITIVE_INFINITY): Promise<DeadLetter[]> {
    const rows = await this.select('Listing dead letters', this.ctx.sql.deadLetters, [sqlLimit(limit)]);
    return rows.map((r) => ({
      body: r.body as string,
      reason: (r.dead_reason as string | null) ?? '',
      queue: r.queue as string,
      at: r.dead_at as Date,
    }));
  }

  async requeueDeadLetters(limit = Number.POSITIVE_INFINITY): Promise<number> {
    this.assertOpen();
    const rows = await this.select('Requeueing dead letters', this.ctx.sql.requeueDead, [sqlLimit(limit)]);
    return (rows[0]?.moved as number | undefined) ?? 0;
  }

  /**
   * Deletes, in one statement, `queue`'s waiting rows, its delayed rows (ETA ahead, delayed
   * requeues included) and/or its dead rows; returns how many of each. Leased rows stay (a lease
   * that expired is claimable again, so counts as waiting). Result states are not changed.
   */
  async purge(queue: string, options: PurgeOptions): Promise<PurgeCounts> {
    this.assertOpen();
    const r = checkPurge('PostgresBroker', queue, options, {
      pending: true,
      delayed: true,
      deadLetters: true,
    });
    const [row] = await this.select(`Purging queue "${queue}"`, this.ctx.sql.purge, [
      queue,
      r.pending,
      r.delayed,
      r.deadLetters,
    ]);
    return {
      pending: (row?.pending as number | undefined) ?? 0,
      delayed: (row?.delayed as number | undefined) ?? 0,
      deadLetters: (row?.dead as number | undefined) ?? 0,
    };
  }

  private async select(what: string, text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    await this.migrate();
    try {
      return (await this.pool.query(text, values)).rows;
    } catch (err) {
      throw postgresError(what, this.ctx.where, err);
    }
  }

  /**
   * Stops every consumer, sends pending acknowledgements, stops renewing, and ends the pool the
   * broker created (a pool passed in stays open). Unsettled deliveries are redelivered once their
   * leases expire. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
    await this.listener.close();
    await this.migrating?.catch(() => {});
    if (this.ownsPool) await this.pool.end();
  }
}

/** `LIMIT NULL` is no limit. */
function sqlLimit(limit: number): number | null {
  return limit === Number.POSITIVE_INFINITY ? null : Math.max(0, Math.floor(limit));
}

function decodeAll(rows: Record<string, unknown>[]): Signature[] {
  const out: Signature[] = [];
  for (const r of rows) {
    try {
      out.push(decodeSignature(r.body as string));
    } catch {
      // Inspection shows tasks; an undecodable body is dead-lettered once a consumer takes it.
    }
  }
  return out;
}
