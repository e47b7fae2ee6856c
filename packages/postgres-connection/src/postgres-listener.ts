import type { Logger } from '@machinery/core';
import type { Notification, Pool, PoolClient } from 'pg';
import { describePostgresError } from './postgres-errors.js';

/** Longest pause between two attempts to re-establish `LISTEN`. */
const MAX_BACKOFF_MS = 5000;

/** Options for {@link PostgresListener}. */
export interface PostgresListenerOptions {
  /** The pool one connection is checked out from, and kept, while listening. */
  readonly pool: Pool;
  /** The channel to `LISTEN` on ({@link PostgresTable.channel}). */
  readonly channel: string;
  readonly logger: Logger;
  /** Runs with each notification's payload (a queue name, a task UUID…). */
  onPayload(payload: string): void;
  /**
   * Runs once `LISTEN` is back after the connection was lost: notifications sent meanwhile are gone,
   * so the adapter looks again at what it waits for.
   */
  onResumed(): void;
  /** What the adapter does while the connection is down, ending the warning (`polling until it is back`). */
  readonly meanwhile: string;
}

/**
 * Holds one pooled connection in `LISTEN` on a channel and hands each notification's payload to
 * `onPayload`. A lost connection is replaced with capped, jittered back-off; once listening again,
 * `onResumed` runs. The first loss is logged at `warn`, the recovery at `info`.
 */
export class PostgresListener {
  private client: PoolClient | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private closed = false;

  constructor(private readonly options: PostgresListenerOptions) {}

  /**
   * Starts listening (once). Resolves when `LISTEN` is in place or the first attempt failed — it
   * never rejects: after a failure the listener keeps trying in the background.
   */
  start(): Promise<void> {
    if (this.closed || this.client || this.retryTimer) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const { pool, channel } = this.options;
    let client: PoolClient | undefined;
    try {
      client = await pool.connect();
      // A checked-out client's errors arrive as events; without a listener they would crash the process.
      client.on('error', (err) => this.lost(client as PoolClient, err));
      client.on('notification', (n: Notification) => {
        if (n.channel === channel && n.payload !== undefined) this.options.onPayload(n.payload);
      });
      await client.query(`LISTEN "${channel}"`);
    } catch (err) {
      if (client) this.lost(client, err);
      else this.retry(err);
      return;
    }
    if (this.closed) {
      client.release(true);
      return;
    }
    const resumed = this.backoffMs > 0;
    this.client = client;
    this.backoffMs = 0;
    if (resumed) {
      this.options.logger.info({}, 'PostgreSQL LISTEN connection restored');
      this.options.onResumed();
    }
  }

  private lost(client: PoolClient, err: unknown): void {
    if (this.client === client) this.client = undefined;
    try {
      client.release(err instanceof Error ? err : true);
    } catch {
      // Released already.
    }
    this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.closed || this.retryTimer) return;
    if (this.backoffMs === 0) {
      this.options.logger.warn(
        { err: describePostgresError(err) },
        `PostgreSQL LISTEN connection lost; ${this.options.meanwhile}`,
      );
    }
    this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(100, this.backoffMs * 2));
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        void this.start();
      },
      this.backoffMs / 2 + Math.random() * (this.backoffMs / 2),
    );
  }

  /** Stops listening and returns the connection to the pool. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await client.query(`UNLISTEN "${this.options.channel}"`);
      client.release();
    } catch (err) {
      client.release(err instanceof Error ? err : true);
    }
  }
}
