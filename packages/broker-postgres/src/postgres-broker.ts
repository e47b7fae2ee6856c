import {
  type Broker,
  type BrokerCapabilities,
  type ConsumeOptions,
  type Consumer,
  childLogger,
  type DeadLetter,
  type Delivery,
  decodeSignature,
  encodeForPublish,
  type Logger,
  MachineryError,
  redactUrl,
  resolveLogger,
  type Signature,
} from '@machinery/core';
import { Pool } from 'pg';
import { PostgresConsumer } from './consumer.js';
import type { BrokerContext } from './context.js';
import { databaseError, describeError } from './errors.js';
import { Listener } from './listener.js';
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
  };
  readonly defaultQueue: string;
  /** The `pg` pool in use (the one passed in, or the one the broker created). */
  readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly ctx: BrokerContext;
  private readonly logger: Logger;
  private readonly listener: Listener;
  private readonly consumers = new Set<PostgresConsumer>();
  private migrating: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: PostgresBrokerOptions = {}) {
    const resolved = resolveOptions(options);
    this.defaultQueue = resolved.defaultQueue;
    this.logger = childLogger(resolveLogger(options.logger), { component: 'postgres-broker' });
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      this.pool = new Pool({
        ...(options.url !== undefined ? { connectionString: options.url } : {}),
        ...options.clientOptions,
      });
      this.ownsPool = true;
      // Idle connections the server drops (restart, failover) are reported here; without a
      // listener pg would throw them at the process.
      this.pool.on('error', (err) => {
        this.logger.warn(
          { err: describeError(err) },
          'an idle PostgreSQL connection failed; the pool replaces it',
        );
      });
    }
    const sql = new Statements(resolved.schema, resolved.table);
    this.ctx = {
      pool: this.pool,
      sql,
      options: resolved,
      logger: this.logger,
      where: options.pool
        ? 'the given pool'
        : options.url !== undefined
          ? redactUrl(options.url)
          : 'the server named by the PG* environment',
      reportError: (what, err) => this.logger.error({ err: describeError(err) }, `${what} failed`),
    };
    this.listener = new Listener(
      this.pool,
      sql.channel,
      this.logger,
      (queue) => {
        for (const c of this.consumers) if (c.queue === queue) c.wake();
      },
      () => {
        for (const c of this.consumers) c.wake();
      },
    );
  }

  /**
   * Creates the schema, the table and its indexes if they are missing. Idempotent and safe to run
   * from many processes at once (an advisory lock serialises it); every other method runs it first,
   * so calling it is only needed to fail fast at start-up.
   */
  migrate(): Promise<void> {
    this.migrating ??= this.createSchema().catch((err: unknown) => {
      this.migrating = undefined;
      throw databaseError(`Creating the task table ${this.ctx.sql.table}`, this.ctx.where, err);
    });
    return this.migrating;
  }

  private async createSchema(): Promise<void> {
    const { sql } = this.ctx;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [sql.lockKey]);
      // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists.
      const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [sql.schema]);
      if (rowCount === 0) await client.query(sql.createSchema);
      for (const statement of sql.createTable) await client.query(statement);
      await client.query('COMMIT');
      client.release();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(err instanceof Error ? err : true);
      throw err;
    }
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
      throw databaseError(what, this.ctx.where, err);
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

  private async select(what: string, text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    await this.migrate();
    try {
      return (await this.pool.query(text, values)).rows;
    } catch (err) {
      throw databaseError(what, this.ctx.where, err);
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
